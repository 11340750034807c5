"""The status route reads one row without the ORM: what it answers must be what the ORM's view
of the job gives, for every kind of job, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.core.db import create_db_engine
from app.jobs.repository.status import (
    APPLICATION_NAME,
    AsyncpgStatusReader,
    PsycopgStatusReader,
    StatusRow,
    async_status_reader,
    asyncpg_connect_arguments,
)
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


def status_read_connections(settings: Settings, application_name: str) -> list[str]:
    """The last statement of each open connection named ``application_name``."""
    admin = create_engine(settings.database_url)
    try:
        with admin.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT query FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = :name"
                    ),
                    {"name": application_name},
                ).scalars()
            )
    finally:
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgresql_the_route_awaits_the_read_on_the_asyncpg_pool(
    client: TestClient, settings: Settings
) -> None:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    reader = jobs._async_status
    assert isinstance(reader, AsyncpgStatusReader)
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    done = wait_for_job(client, job_id)
    assert client.get(f"/v1/training-jobs/{job_id}").json() == done == orm_status(client, job_id)
    assert client.get(f"/v1/training-jobs/{uuid.uuid4()}").status_code == 404
    queries = status_read_connections(settings, APPLICATION_NAME)
    assert queries
    assert all("FROM training_job" in query for query in queries), queries


def status_rows(client: TestClient) -> list[tuple[uuid.UUID, str]]:
    """A completed, a failed and a cancelled job of the default tenant."""
    completed = client.post("/v1/training-jobs", json=job_request(tags={"team": "a"})).json()
    wait_for_job(client, completed["job_id"])
    bad = job_request(
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 5}},
        data_source_config={"path": "sklearn://iris", "target_column": "sepal length (cm)"},
    )
    failed = client.post("/v1/training-jobs", json=bad).json()
    wait_for_job(client, failed["job_id"])
    cancelled = client.post("/v1/training-jobs", json=job_request()).json()
    client.post(f"/v1/training-jobs/{cancelled['job_id']}/cancel")
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    found = []
    for job in (completed, failed, cancelled):
        row = jobs.repository.get_job(uuid.UUID(job["job_id"]))
        assert row is not None
        found.append((row.id, row.tenant))
    return found


def same_values_and_types(left: StatusRow | None, right: StatusRow | None) -> None:
    assert left is not None
    assert right is not None
    for field in dataclasses.fields(StatusRow):
        a, b = getattr(left, field.name), getattr(right, field.name)
        assert a == b, field.name
        assert type(a) is type(b), (field.name, type(a), type(b))
        if hasattr(a, "tzinfo"):
            assert a.tzinfo is b.tzinfo, field.name


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("kind", ["asyncpg", "psycopg"])
def test_the_async_reads_give_the_inline_reads_row_value_for_value_and_type(
    client: TestClient, settings: Settings, kind: str
) -> None:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    engine = create_db_engine(settings.database_url)
    inline = jobs.repository.read_status

    async def compare() -> None:
        reader: AsyncpgStatusReader | PsycopgStatusReader
        if kind == "asyncpg":
            arguments = asyncpg_connect_arguments(engine.url, {})
            assert arguments is not None
            reader = AsyncpgStatusReader(arguments, fallback=lambda *_: None)
        else:
            reader = PsycopgStatusReader(engine, fallback=lambda *_: None)
        await reader.open()
        try:
            for job_id, tenant in rows:
                same_values_and_types(
                    await reader.read(job_id, tenant), inline(job_id, tenant=tenant)
                )
                assert await reader.read(job_id, tenant + "-other") is None  # another tenant's
            assert await reader.read(uuid.uuid4(), rows[0][1]) is None
        finally:
            await reader.close()

    rows = status_rows(client)
    try:
        asyncio.run(compare())
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_with_no_async_connection_to_be_had_the_read_is_made_inline(client: TestClient) -> None:
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    reader = jobs._async_status
    assert isinstance(reader, AsyncpgStatusReader)
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    wait_for_job(client, job_id)
    portal = client.portal  # type: ignore[attr-defined]
    held = [portal.call(reader.pool.acquire) for _ in range(reader.POOL_MAX)]
    try:
        response = client.get(f"/v1/training-jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert response.json() == orm_status(client, job_id)
    finally:
        for connection in held:
            portal.call(reader.pool.release, connection)


def test_the_database_url_is_given_to_asyncpg_as_libpq_reads_it() -> None:
    url = make_url(
        "postgresql+psycopg://us%40er:p%40ss%3Aw%2Frd@db.example:6543/jobs"
        "?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=30"
        "&options=-c%20search_path%3Dtrainyard&application_name=api"
    )
    arguments = asyncpg_connect_arguments(url, {"PGPASSWORD": "ignored: the URL has one"})
    assert arguments == {
        "dsn": "postgresql://?sslmode=verify-full&sslrootcert=%2Fca.pem",
        "user": "us@er",
        "password": "p@ss:w/rd",
        "host": "db.example",
        "port": 6543,
        "database": "jobs",
        "timeout": 2,  # connect_timeout is the read's own, as on psycopg
        "server_settings": {
            "options": "-c search_path=trainyard -c statement_timeout=2000",
            "application_name": "api",
        },
    }
    bare = asyncpg_connect_arguments(make_url("postgresql+psycopg:///jobs"), {})
    assert bare == {
        "database": "jobs",
        "timeout": 2,
        "server_settings": {
            "options": "-c statement_timeout=2000",
            "application_name": APPLICATION_NAME,
        },
    }


@pytest.mark.parametrize(
    ("url", "environment"),
    [
        ("postgresql+psycopg://u@h/db?keepalives=1", {}),  # an option asyncpg does not take
        ("postgresql+psycopg://u@/db?host=a:5432&host=b:5432", {}),  # several hosts
        ("postgresql+psycopg://u@h/db", {"PGOPTIONS": "-c search_path=other"}),
        ("postgresql+psycopg://u@h/db", {"PGSERVICE": "jobs"}),
    ],
)
def test_what_asyncpg_would_read_otherwise_keeps_the_read_on_psycopg(
    url: str, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert asyncpg_connect_arguments(make_url(url), environment) is None
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    engine = create_db_engine(url)
    try:
        reader = async_status_reader(engine, fallback=lambda *_: None)
    finally:
        engine.dispose()
    assert isinstance(reader, PsycopgStatusReader)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_url_with_a_password_and_options_reaches_the_same_database(
    client: TestClient, settings: Settings
) -> None:
    job_id = uuid.UUID(client.post("/v1/training-jobs", json=job_request()).json()["job_id"])
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.repository.get_job(job_id)
    assert job is not None
    url = make_url(settings.database_url).update_query_dict(
        {"sslmode": "prefer", "application_name": "status-url-test", "options": "-c work_mem=8MB"}
    )
    if url.password is None:
        url = url.set(password="p@ss:w/rd %")  # ignored by a server that trusts the client
    engine = create_db_engine(url.render_as_string(hide_password=False))

    async def read() -> tuple[StatusRow | None, list[str]]:
        reader = async_status_reader(engine, fallback=lambda *_: None)
        assert isinstance(reader, AsyncpgStatusReader)
        await reader.open()
        try:
            row = await reader.read(job_id, job.tenant)
            connection = await reader.pool.acquire()
            try:
                settings_seen = [
                    await connection.fetchval(f"SHOW {name}")
                    for name in ("application_name", "work_mem", "statement_timeout")
                ]
            finally:
                await reader.pool.release(connection)
            return row, settings_seen
        finally:
            await reader.close()

    try:
        row, seen = asyncio.run(read())
    finally:
        engine.dispose()
    assert row is not None
    assert row.id == job_id
    assert seen == ["status-url-test", "8MB", "2s"]


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
