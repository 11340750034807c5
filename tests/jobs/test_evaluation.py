"""GET /v1/training-jobs/{job_id}/evaluation: the report a completed job stored with its model."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from sklearn.datasets import load_diabetes

from app.config import Settings
from app.core.auth import hash_key
from app.main import create_app
from app.trainer.artifacts import EVALUATION_FILE
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import endless_job, job_request, wait_for_job


def completed(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"])
    assert done["status"] == "completed", done
    return done


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_a_completed_classifier_serves_its_report(client: TestClient, settings: Settings) -> None:
    job = completed(client)
    response = client.get(f"/v1/training-jobs/{job['job_id']}/evaluation")
    assert response.status_code == 200, response.text
    report = response.json()
    # Served as stored beside the model, every field of it.
    stored = json.loads(
        (Path(settings.artifact_root) / job["job_id"] / EVALUATION_FILE).read_text()
    )
    assert report == {**stored, "job_id": job["job_id"]}
    assert report["job_id"] == job["job_id"]
    assert (report["task"], report["split"]) == ("classification", "validation")
    assert report["rows"] == job["data"]["validation_rows"] == 30
    classification = report["classification"]
    assert classification["labels"] == ["0", "1", "2"]
    assert sum(map(sum, classification["confusion_matrix"])) == report["rows"]
    # The diagonal over the rows is the job's own validation accuracy.
    diagonal = sum(classification["confusion_matrix"][i][i] for i in range(3))
    assert diagonal / report["rows"] == job["metrics"]["validation_accuracy"]
    assert [c["label"] for c in classification["roc"]] == ["0", "1", "2"]
    assert report["regression"] is None
    importance = report["feature_importance"]
    assert {f["feature"] for f in importance["features"]} == {
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"
    }  # fmt: skip


def test_a_regressor_serves_residuals(client: TestClient, data_root: Path) -> None:
    load_diabetes(as_frame=True).frame.to_csv(data_root / "diabetes.csv", index=False)
    job = completed(
        client,
        data_source_config={"path": "diabetes.csv", "target_column": "target"},
        algorithm_config={"name": "Ridge"},
    )
    report = client.get(f"/v1/training-jobs/{job['job_id']}/evaluation").json()
    assert report["task"] == "regression"
    assert report["classification"] is None
    regression = report["regression"]
    assert len(regression["sample"]["actual"]) == len(regression["sample"]["predicted"]) == 89
    assert sum(regression["residuals"]["histogram"]["counts"]) == report["rows"] == 89
    assert report["feature_importance"]["scoring"] == "r2"


def test_unknown_running_and_failed_jobs(client: TestClient, data_root: Path) -> None:
    problem(client.get(f"/v1/training-jobs/{uuid.uuid4()}/evaluation"), 404)
    problem(client.get("/v1/training-jobs/not-a-uuid/evaluation"), 422)

    running = client.post("/v1/training-jobs", json=endless_job()).json()
    wait_for_job(client, running["job_id"], statuses={"running"})
    body = problem(client.get(f"/v1/training-jobs/{running['job_id']}/evaluation"), 409)
    assert "running" in body["detail"]
    client.post(f"/v1/training-jobs/{running['job_id']}/cancel")
    wait_for_job(client, running["job_id"])

    pd.DataFrame({"x": range(20), "label": ["same"] * 20}).to_csv(
        data_root / "one-class.csv", index=False
    )
    failed = client.post(
        "/v1/training-jobs",
        json=job_request(data_source_config={"path": "one-class.csv", "target_column": "label"}),
    ).json()
    assert wait_for_job(client, failed["job_id"])["status"] == "failed"
    problem(client.get(f"/v1/training-jobs/{failed['job_id']}/evaluation"), 409)


def test_a_job_trained_before_reports_is_a_clear_404(
    client: TestClient, settings: Settings
) -> None:
    job = completed(client)
    (Path(settings.artifact_root) / job["job_id"] / EVALUATION_FILE).unlink()
    body = problem(client.get(f"/v1/training-jobs/{job['job_id']}/evaluation"), 404)
    assert "trained before" in body["detail"]


def test_another_tenants_report_is_not_found(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, api_keys=[f"a:{hash_key('ka')}", f"b:{hash_key('kb')}"]
    )
    with TestClient(create_app(settings)) as client:
        a, b = {"X-API-Key": "ka"}, {"X-API-Key": "kb"}
        job = client.post("/v1/training-jobs", json=job_request(), headers=a).json()
        assert wait_for_job(client, job["job_id"], headers=a)["status"] == "completed"
        assert client.get(f"/v1/training-jobs/{job['job_id']}/evaluation", headers=a).is_success
        problem(client.get(f"/v1/training-jobs/{job['job_id']}/evaluation", headers=b), 404)
