"""The status route reads one row without the ORM: what it answers must be what the ORM's view
of the job gives, for every kind of job, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.config import Settings
from app.jobs.service import JobService, to_status
from tests.fixtures.jobs import job_request, wait_for_job


def orm_status(client: TestClient, job_id: str) -> dict[str, object]:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.repository.get_job(uuid.UUID(job_id))
    assert job is not None
    return to_status(job).model_dump(mode="json")


def test_the_status_of_a_completed_a_failed_and_a_pending_job_is_the_orms(
    client: TestClient,
) -> None:
    completed = client.post("/v1/training-jobs", json=job_request(tags={"team": "a"})).json()
    done = wait_for_job(client, completed["job_id"])
    assert done["status"] == "completed"
    assert done["metrics"]
    assert done["data"]
    assert done["completed_at"]
    assert done == orm_status(client, done["job_id"])

    bad = job_request(
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 5}},
        data_source_config={"path": "sklearn://iris", "target_column": "sepal length (cm)"},
    )
    failed = wait_for_job(client, client.post("/v1/training-jobs", json=bad).json()["job_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["type"]
    assert failed == orm_status(client, failed["job_id"])

    cancelled = client.post("/v1/training-jobs", json=job_request()).json()
    client.post(f"/v1/training-jobs/{cancelled['job_id']}/cancel")
    read = client.get(f"/v1/training-jobs/{cancelled['job_id']}").json()
    assert read == orm_status(client, cancelled["job_id"])


def test_a_missing_job_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"/v1/training-jobs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/training-jobs/not-a-uuid").status_code == 422


def test_every_accepted_form_of_the_id_gives_the_same_answer(client: TestClient) -> None:
    # The canonical form is served without FastAPI's validation (app.core.routing); the others
    # go through it: each must answer as FastAPI's own UUID validation does.
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    expected = client.get(f"/v1/training-jobs/{job_id}")
    assert expected.status_code == 200
    parsed = uuid.UUID(job_id)
    for form in (job_id.upper(), parsed.hex, parsed.urn, f"{{{job_id}}}"):
        response = client.get(f"/v1/training-jobs/{form}")
        assert response.status_code == 200, (form, response.text)
        assert response.json()["job_id"] == job_id
    for bad in ("not-a-uuid", job_id[:-1] + "g", f"{job_id[:8]}{job_id[9:]}-", "x" * 36):
        response = client.get(f"/v1/training-jobs/{bad}")
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")
        error = response.json()["errors"][0]
        assert (error["location"], error["field"]) == ("path", "job_id"), error


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgresql_the_route_awaits_the_read_on_the_async_pool(client: TestClient) -> None:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    reader = jobs._async_status
    assert reader is not None
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    done = wait_for_job(client, job_id)
    before = reader.pool.get_stats().get("requests_num", 0)
    assert client.get(f"/v1/training-jobs/{job_id}").json() == done == orm_status(client, job_id)
    assert client.get(f"/v1/training-jobs/{uuid.uuid4()}").status_code == 404
    assert reader.pool.get_stats()["requests_num"] == before + 2


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_with_no_async_connection_to_be_had_the_read_is_made_inline(client: TestClient) -> None:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    reader = jobs._async_status
    assert reader is not None
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    wait_for_job(client, job_id)
    portal = client.portal  # type: ignore[attr-defined]
    held = [portal.call(reader.pool.getconn) for _ in range(reader.POOL_MAX)]
    try:
        response = client.get(f"/v1/training-jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert response.json() == orm_status(client, job_id)
    finally:
        for connection in held:
            portal.call(reader.pool.putconn, connection)


# A SQLite file has no connection to lose: PostgreSQL only.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_status_read_survives_the_database_dropping_its_connection(
    client: TestClient, settings: Settings
) -> None:
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    assert client.get(f"/v1/training-jobs/{job_id}").status_code == 200
    admin = create_engine(settings.database_url)
    with admin.begin() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert ended >= 1
    response = client.get(f"/v1/training-jobs/{job_id}")
    assert response.status_code == 200, response.text
    assert response.json()["job_id"] == job_id
