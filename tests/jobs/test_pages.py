"""The job list's pages: a cursor (page_token / next_page_token) beside limit/offset, the total
only when asked, and every filter served by an index in the sort order (EXPLAIN, both DBs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.core.db import create_db_engine
from app.jobs.lifecycle import JobStatus
from app.jobs.repository import JobFilter, JobRepository, Position
from tests.fixtures.jobs import job_request

LIST = "/v1/training-jobs"


def submit(client: TestClient, **overrides: Any) -> str:
    response = client.post(LIST, json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def pages(client: TestClient, **params: Any) -> Iterator[dict[str, Any]]:
    page = client.get(LIST, params=params).json()
    yield page
    while page["next_page_token"] is not None:
        page = client.get(LIST, params={**params, "page_token": page["next_page_token"]}).json()
        yield page


def test_cursor_pages_walk_every_job_once_while_jobs_are_added(client: TestClient) -> None:
    ids = [submit(client, model_name="paged") for _ in range(7)]
    walk = pages(client, limit=3)
    first = next(walk)
    assert first["total"] is None  # no count unless asked
    assert [j["job_id"] for j in first["items"]] == ids[::-1][:3]
    newer = [submit(client, model_name="paged") for _ in range(2)]  # arrive mid-walk
    seen = [j["job_id"] for j in first["items"]]
    for page in walk:
        seen += [j["job_id"] for j in page["items"]]
    assert seen == ids[::-1]  # the new jobs belong before the first page; nothing skipped
    assert len(set(seen)) == len(seen)
    fresh = client.get(LIST, params={"limit": 2}).json()
    assert [j["job_id"] for j in fresh["items"]] == newer[::-1]


def test_cursor_follows_the_filters_and_offset_still_works(client: TestClient) -> None:
    ids = [submit(client, experiment_name="exp-a" if i % 2 else "exp-b") for i in range(5)]
    exp_a = [job_id for i, job_id in enumerate(ids) if i % 2]
    walked = [
        j["job_id"]
        for page in pages(client, limit=1, experiment_name="exp-a")
        for j in page["items"]
    ]
    assert walked == exp_a[::-1]
    counted = client.get(LIST, params={"limit": 2, "offset": 1, "include_total": True}).json()
    assert counted["total"] == 5
    assert [j["job_id"] for j in counted["items"]] == ids[::-1][1:3]
    assert counted["next_page_token"] is not None  # from an offset page on by cursor
    after = client.get(LIST, params={"limit": 5, "page_token": counted["next_page_token"]})
    assert [j["job_id"] for j in after.json()["items"]] == ids[::-1][3:]
    assert after.json()["next_page_token"] is None


def _field_problem(response: Any) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["page_token"], body
    return str(body["detail"])


def test_a_bad_or_foreign_page_token_is_a_422_naming_page_token(client: TestClient) -> None:
    for _ in range(3):
        submit(client, experiment_name="exp-a")
    token = client.get(LIST, params={"limit": 1}).json()["next_page_token"]
    assert token is not None
    for bad in ("not-a-token", "e30", token[:-3] + "AAA", "!!!"):
        _field_problem(client.get(LIST, params={"page_token": bad}))
    detail = _field_problem(client.get(LIST, params={"page_token": token, "status": "failed"}))
    assert "another list" in detail
    _field_problem(client.get(LIST, params={"page_token": token, "offset": 1}))


# -- the query plans -------------------------------------------------------------------------

FILTERS = {
    "ix_training_job_tenant_created_at_id": JobFilter("t"),
    "ix_training_job_tenant_status_created_at_id": JobFilter("t", status=JobStatus.FAILED),
    "ix_training_job_tenant_model_created_at_id": JobFilter("t", model_name="m"),
    "ix_training_job_tenant_experiment_created_at_id": JobFilter("t", experiment_name="e"),
}


def _capture(engine: Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A handful of rows would make any plan a sequential scan; forbid that, so the plan
        # shows which index the query can use, and whether it still has to sort.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(str(row[0]) for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


@pytest.mark.parametrize("index", sorted(FILTERS))
@pytest.mark.parametrize("cursor", [False, True], ids=["first-page", "past-a-cursor"])
def test_each_filter_reads_its_index_in_the_sort_order(
    database_url: str, index: str, cursor: bool
) -> None:
    engine = create_db_engine(database_url)
    try:
        repository = JobRepository(engine)
        seen = _capture(engine)
        after = Position(created_at=_now(), job_id=uuid.uuid4()) if cursor else None
        repository.list_jobs(FILTERS[index], limit=20, after=after)
        assert len(seen) == 1
        plan = _plan(engine, *seen[0])
    finally:
        engine.dispose()
    assert index in plan, plan
    # No sort step: the rows come in the index's order.
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


def _now() -> Any:
    from app.jobs.models import utcnow

    return utcnow()
