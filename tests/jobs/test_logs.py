"""GET /v1/training-jobs/{job_id}/logs: the per-attempt log files of real jobs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from tests.fixtures.jobs import job_request, wait_for_job


def submit(client: TestClient, **overrides: object) -> str:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def test_completed_job_log_shows_its_stages(client: TestClient, settings: Settings) -> None:
    job_id = submit(client)
    assert wait_for_job(client, job_id)["status"] == "completed"
    path = settings.artifact_root.resolve() / job_id / "attempt-1.log"
    # The child records the job as completed; its supervisor adds the last line just after.
    deadline = time.monotonic() + 10
    while "INFO supervisor:" not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.get(f"/v1/training-jobs/{job_id}/logs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert text.startswith("==> attempt 1 <==\n")
    assert f"attempt 1 of job {job_id} started" in text
    order = [text.index(f"stage {s}") for s in ("preprocessing", "training", "storing_artifacts")]
    assert order == sorted(order)
    assert "completed: trained RandomForestClassifier" in text
    assert path.read_text() in text
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 1}).text == (
        path.read_text()
    )


def test_failed_job_log_keeps_the_traceback(client: TestClient, data_root: Path) -> None:
    (data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    job_id = submit(
        client,
        data_source_config={"path": "one_class.csv", "target_column": "y"},
        algorithm_config={"name": "LogisticRegression"},
    )
    assert wait_for_job(client, job_id)["status"] == "failed"
    text = client.get(f"/v1/training-jobs/{job_id}/logs").text
    assert "ERROR" in text
    assert "failed in stage preprocessing" in text
    assert "Traceback (most recent call last)" in text
    assert "single class" in text


def test_logs_of_unknown_job_or_attempt_are_404(client: TestClient) -> None:
    unknown = client.get(f"/v1/training-jobs/{uuid.uuid4()}/logs")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/training-jobs/not-a-uuid/logs").status_code == 422
    job_id = submit(client)
    wait_for_job(client, job_id)
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 7}).status_code == 404
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 0}).status_code == 422


def test_cancelled_attempt_log_says_how_it_ended(client: TestClient) -> None:
    job_id = submit(
        client,
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 5000}},
    )
    wait_for_job(client, job_id, statuses={"running"})
    deadline = time.monotonic() + 30
    while "stage training" not in client.get(f"/v1/training-jobs/{job_id}/logs").text:
        assert time.monotonic() < deadline, "the attempt never reached training"
        time.sleep(0.05)
    assert client.post(f"/v1/training-jobs/{job_id}/cancel").status_code == 202
    assert wait_for_job(client, job_id)["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while "supervisor:" not in (text := client.get(f"/v1/training-jobs/{job_id}/logs").text):
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    last = text.rstrip().splitlines()[-1]
    assert "cancellation was requested" in last
    assert "(outcome: cancelled)" in last
