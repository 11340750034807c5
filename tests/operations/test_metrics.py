"""GET /metrics (Prometheus) and the health endpoints, as jobs run on the real app."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.jobs import job_request, wait_for_job


def submit(client: TestClient, **overrides: object) -> str:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        base, _, rest = metric.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if base == name and got == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


def test_job_metrics_change_as_jobs_run(client: TestClient, data_root: Path) -> None:
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert sample(before.text, "trainyard_jobs", status="completed") == 0
    assert sample(before.text, "trainyard_jobs", status="pending") == 0
    assert sample(before.text, "trainyard_job_queue_wait_seconds_count") == 0

    (data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    done = submit(client)
    failed = submit(
        client,
        data_source_config={"path": "one_class.csv", "target_column": "y"},
        algorithm_config={"name": "LogisticRegression"},
    )
    during = client.get("/metrics").text
    assert (
        sum(sample(during, "trainyard_jobs", status=s) for s in ("pending", "running", "completed"))
        + sample(during, "trainyard_jobs", status="failed")
        == 2
    )

    assert wait_for_job(client, done)["status"] == "completed"
    assert wait_for_job(client, failed)["status"] == "failed"
    after = client.get("/metrics").text
    assert sample(after, "trainyard_jobs", status="completed") == 1
    assert sample(after, "trainyard_jobs", status="failed") == 1
    assert sample(after, "trainyard_jobs", status="pending") == 0
    assert sample(after, "trainyard_job_queue_wait_seconds_count") == 2
    assert sample(after, "trainyard_job_queue_wait_seconds_bucket", le="+Inf") == 2
    assert sample(after, "trainyard_job_run_duration_seconds_count", status="completed") == 1
    assert sample(after, "trainyard_job_run_duration_seconds_count", status="failed") == 1
    run_sum = sample(after, "trainyard_job_run_duration_seconds_sum", status="completed")
    assert 0 < run_sum < 120


def test_http_metrics_use_route_templates(client: TestClient) -> None:
    job_id = submit(client)
    client.get(f"/v1/training-jobs/{job_id}")
    client.get(f"/v1/training-jobs/{uuid.uuid4()}")
    client.get("/no/such/page")
    text = client.get("/metrics").text
    route = "/v1/training-jobs/{job_id}"
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route=route, status="200") >= 1
    )
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route=route, status="404") == 1
    )
    assert (
        sample(
            text,
            "trainyard_http_requests_total",
            method="POST",
            route="/v1/training-jobs",
            status="202",
        )
        == 1
    )
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert job_id not in text  # no label per job id
    assert (
        sample(text, "trainyard_http_request_duration_seconds_count", method="GET", route=route)
        >= 2
    )


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_still_answer(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200
