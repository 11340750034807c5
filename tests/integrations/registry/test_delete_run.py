"""Deleting a job marks its MLflow run deleted; the registered model version stays (a model
registry keeps what was promoted from it)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.jobs import job_request, wait_for_job
from tests.integrations.registry.conftest import MlflowStore


def test_deleting_a_job_marks_its_run_deleted(
    registry_client: TestClient, mlflow_store: MlflowStore
) -> None:
    response = registry_client.post("/v1/training-jobs", json=job_request(model_name="forgotten"))
    assert response.status_code == 202, response.text
    done = wait_for_job(registry_client, response.json()["job_id"], timeout=180)
    assert done["status"] == "completed", done
    run_id = done["registry"]["run_id"]
    mlflow = mlflow_store.client()
    assert mlflow.get_run(run_id).info.lifecycle_stage == "active"
    assert registry_client.delete(f"/v1/training-jobs/{done['job_id']}").status_code == 204
    assert mlflow.get_run(run_id).info.lifecycle_stage == "deleted"
    assert registry_client.get(f"/v1/training-jobs/{done['job_id']}").status_code == 404
