"""The job tally behind /metrics equals a real count of the table after a mix of submits,
claims, completions, failures, requeues, cancels and deletes made by several forked
processes at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, select

from app.core.db import create_db_engine
from app.jobs.lifecycle import JobStatus
from app.jobs.models import TrainingJob
from app.jobs.repository import JobRepository
from app.jobs.stats import JobStatistics
from tests.fixtures import ROOT

WORKERS = 3
JOBS_EACH = 25


def new_job(tenant: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "model_name": "tallied",
        "model_version": None,
        "algorithm": "RandomForestClassifier",
        "experiment_name": None,
        "tags": {},
        "request": {},
        "request_hash": "0" * 64,
        "tenant": tenant,
        "idempotency_key": None,
        "max_attempts": 2,
        "max_runtime_seconds": 60,
    }


def run_mix(database_url: str, seed: int) -> None:
    """One process's share: every path a job can take, chosen at random."""
    engine = create_db_engine(database_url)
    repository = JobRepository(engine)
    chance = random.Random(seed)
    owner = f"worker-{seed}"
    for _ in range(JOBS_EACH):
        tenant = chance.choice(["", "team-a"])
        job = repository.create_job(new_job(tenant), pending_limit=10_000)
        path = chance.choice(["pending", "complete", "fail", "cancel", "requeue", "running"])
        if path == "pending":
            continue
        if path == "cancel" and chance.random() < 0.5:
            repository.request_cancel(job.id, tenant)  # cancelled while pending
            continue
        claim = repository.claim(owner=owner, lease_seconds=30, job_id=job.id)
        if claim is None:
            continue
        if path == "running":
            continue
        if path == "requeue":
            repository.requeue(job.id, claim.attempt, message="requeued")
            claim = repository.claim(owner=owner, lease_seconds=30, job_id=job.id)
            assert claim is not None
        outcome = {
            "complete": JobStatus.COMPLETED,
            "fail": JobStatus.FAILED,
            "cancel": JobStatus.CANCELLED,
        }.get(path, JobStatus.COMPLETED)
        repository.finish(job.id, claim.attempt, status=outcome, message=path)
        if chance.random() < 0.3:
            assert repository.delete_job(job.id, tenant) is not None
    engine.dispose()


def counted(repository: JobRepository) -> dict[str, int]:
    with repository.reader() as session:
        rows = session.execute(
            select(TrainingJob.status, func.count()).group_by(TrainingJob.status)
        ).all()
    found = {status.value: 0 for status in JobStatus}
    found.update({status: int(n) for status, n in rows})
    return found


# SQLite's julianday() keeps milliseconds: a recount from it may be 2 ms off per job (two times).
def _near(count: int) -> float:
    return 0.002 * count + 1e-6


def assert_same(tallied: JobStatistics, recounted: JobStatistics) -> None:
    assert tallied.jobs_by_status == recounted.jobs_by_status
    assert tallied.queue_wait.cumulative == recounted.queue_wait.cumulative
    assert tallied.queue_wait.count == recounted.queue_wait.count
    wait = tallied.queue_wait
    assert wait.sum == pytest.approx(recounted.queue_wait.sum, abs=_near(wait.count))
    assert tallied.run_duration.keys() == recounted.run_duration.keys()
    for status, histogram in tallied.run_duration.items():
        assert histogram.cumulative == recounted.run_duration[status].cumulative
        near = _near(histogram.count)
        assert histogram.sum == pytest.approx(recounted.run_duration[status].sum, abs=near)


def test_the_tally_equals_a_count_after_writes_from_forked_processes(database_url: str) -> None:
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=run_mix, args=(database_url, seed)) for seed in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    engine = create_db_engine(database_url)
    try:
        repository = JobRepository(engine)
        tallied = repository.statistics()
        assert tallied.jobs_by_status == counted(repository)
        assert sum(tallied.jobs_by_status.values()) > 0
        assert tallied.run_duration  # some jobs ended after running
        repository.recount()  # the same figures computed from the table by SQL
        assert_same(tallied, repository.statistics())
    finally:
        engine.dispose()


def test_a_scrape_reads_the_tally_not_the_jobs(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        repository = JobRepository(engine)
        for _ in range(3):
            repository.create_job(new_job("team-b"), pending_limit=100)
        statements: list[str] = []
        from sqlalchemy import event

        event.listen(
            engine,
            "before_cursor_execute",
            lambda _c, _k, statement, *_: statements.append(statement),
        )
        stats = repository.statistics()
        assert stats.jobs_by_status["pending"] == 3
        assert all("training_job" not in statement for statement in statements), statements
    finally:
        engine.dispose()


def test_the_migration_backfills_the_tally_from_the_jobs_there_are(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "i17events")  # the schema before the tally
    engine = create_db_engine(url)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    rows = [
        {
            **new_job(tenant),
            "model_version": str(i),
            "status": status,
            "stage": "done",
            "progress": 0.0,
            "attempt": 1,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            "started_at": None if status == "pending" else now + timedelta(seconds=i),
            "completed_at": now + timedelta(seconds=60 * i) if status != "pending" else None,
        }
        for i, (tenant, status) in enumerate(
            [("", "pending"), ("", "completed"), ("a", "completed"), ("a", "failed")]
        )
    ]
    with engine.begin() as connection:
        connection.execute(insert(TrainingJob.__table__), rows)
    command.upgrade(config, "head")
    try:
        repository = JobRepository(engine)
        stats = repository.statistics()
        assert stats.jobs_by_status == {**counted(repository)}
        assert stats.jobs_by_status["completed"] == 2
        assert stats.queue_wait.count == 3
        assert stats.queue_wait.sum == pytest.approx(1 + 2 + 3, abs=0.01)
        assert stats.run_duration["completed"].count == 2
        assert stats.run_duration["failed"].sum == pytest.approx(180 - 3, abs=0.01)
    finally:
        engine.dispose()
