"""Model versions are unique per tenant and model name, whatever the concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from app.config import Settings
from app.schemas import TrainingJobRequest
from app.service import MLModelTrainingService
from tests.fixtures.jobs import job_request

SUBMITS = 50


def test_concurrent_submits_of_one_model_get_distinct_versions(settings: Settings) -> None:
    settings = settings.model_copy(update={"max_pending_jobs_per_tenant": SUBMITS * 2})
    service = MLModelTrainingService(settings=settings)
    request = TrainingJobRequest.model_validate(job_request(model_name="contended"))
    try:
        with ThreadPoolExecutor(max_workers=SUBMITS) as pool:
            statuses = list(
                pool.map(
                    lambda _: service.jobs.record(request, idempotency_key=None, tenant="")[0],
                    range(SUBMITS),
                )
            )
        versions = [status.model_version for status in statuses]
        assert sorted(versions, key=int) == [str(n) for n in range(1, SUBMITS + 1)]
        # Another tenant's model of the same name counts from 1 on its own.
        other = service.jobs.record(request, idempotency_key=None, tenant="team-b")[0]
        assert other.model_version == "1"
    finally:
        service.close()


def test_a_given_version_that_is_taken_is_a_conflict(client: TestClient) -> None:
    first = client.post("/v1/training-jobs", json=job_request(model_version="1.0.0"))
    assert first.status_code == 202
    again = client.post("/v1/training-jobs", json=job_request(model_version="1.0.0"))
    assert again.status_code == 409
    body = again.json()
    assert body["type"] == "urn:trainyard:problem:model-version-taken"
    assert "1.0.0" in body["detail"]
    # An automatic version skips the one given explicitly.
    pinned = client.post("/v1/training-jobs", json=job_request(model_name="m", model_version="1"))
    auto = client.post("/v1/training-jobs", json=job_request(model_name="m"))
    assert pinned.status_code == auto.status_code == 202
    assert auto.json()["model_version"] == "2"


def test_an_automatic_version_follows_the_newest_job_of_the_model(client: TestClient) -> None:
    def version(**fields: str) -> str:
        response = client.post("/v1/training-jobs", json=job_request(model_name="n", **fields))
        assert response.status_code == 202, response.text
        return str(response.json()["model_version"])

    assert version() == "1"
    # After a number given explicitly, the next automatic version is one above it.
    assert version(model_version="7") == "7"
    assert version() == "8"
    # After a version that is not a number, it is one above the count of the model's jobs.
    assert version(model_version="rc-1") == "rc-1"
    assert version() == "5"
