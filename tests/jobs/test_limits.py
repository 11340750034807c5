"""The caps that keep one caller from exhausting the machine: absurd amounts of work,
executable-looking input, and too many pending jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import endless_job, job_request, wait_for_job


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {
                "algorithm_config": {
                    "name": "RandomForestClassifier",
                    "parameters": {"n_estimators": 10**6},
                }
            },
            "algorithm_config.parameters.n_estimators",
        ),
        (
            {
                "algorithm_config": {"name": "LogisticRegression"},
                "hyperparameter_tuning_config": {
                    "strategy": "random",
                    "search_space": {"max_iter": {"type": "int", "low": 10, "high": 10**9}},
                },
            },
            "hyperparameter_tuning_config.search_space.max_iter",
        ),
        (
            {
                "algorithm_config": {
                    "name": "KNeighborsClassifier",
                    "parameters": {"metric": "os.system"},
                }
            },
            "algorithm_config.parameters.metric",
        ),
        (
            {"algorithm_config": {"name": "SVC", "parameters": {"kernel": "subprocess:run"}}},
            "algorithm_config.parameters.kernel",
        ),
        (
            {"resource_config": {"max_runtime_seconds": 10**7}},
            "resource_config.max_runtime_seconds",
        ),
    ],
)
def test_absurd_work_and_executable_input_are_refused(
    client: TestClient, overrides: dict[str, object], field: str
) -> None:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_too_many_pending_jobs_is_a_429_with_retry_after(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, max_pending_jobs_per_tenant=2, max_concurrent_jobs=1
    )
    with TestClient(create_app(settings)) as client:
        running = client.post(
            "/v1/training-jobs",
            json=endless_job(),
        ).json()["job_id"]
        wait_for_job(client, running, statuses={"running"})
        for _ in range(2):
            assert client.post("/v1/training-jobs", json=job_request()).status_code == 202
        refused = client.post("/v1/training-jobs", json=job_request())
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "TRAINYARD_MAX_PENDING_JOBS_PER_TENANT" in refused.json()["detail"]
        client.post(f"/v1/training-jobs/{running}/cancel")
        wait_for_job(client, running)
