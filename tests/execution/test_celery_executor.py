"""The celery executor with real parts: the API on PostgreSQL, Redis, and `celery worker`
processes on loopback. Without Redis or PostgreSQL these skip (CI fails instead)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.core.db import create_db_engine
from app.execution.celery_app import TASK_NAME, create_celery_app
from app.jobs.lifecycle import JobStage, JobStatus
from app.jobs.models import JobEvent, TrainingJob
from app.jobs.repository import JobRepository
from app.main import create_app
from tests.execution.celery_workers import (
    Worker,
    attempt_processes,
    descendants,
    describe,
    flush_redis,
    redis_counts,
    redis_or_skip,
    start_workers,
    wait_until_gone,
)
from tests.fixtures.app import make_settings
from tests.fixtures.database import truncate_postgres
from tests.fixtures.jobs import job_request, wait_for_job

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# A job that trains for several seconds on this machine: long enough to be caught mid-job.
LONG_JOB = job_request(
    model_name="digits",
    data_source_config={"path": "sklearn://digits", "target_column": "target"},
    algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 600}},
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield redis_or_skip()
    flush_redis()


@pytest.fixture
def pg_url(postgres_database: str) -> str:
    truncate_postgres(postgres_database)
    return postgres_database


@pytest.fixture
def celery_settings(redis_url: str, pg_url: str, tmp_path: Path, data_root: Path) -> Settings:
    return make_settings(
        pg_url,
        tmp_path,
        data_root,
        executor="celery",
        celery_broker_url=redis_url,
        celery_queue=f"training-{uuid.uuid4().hex[:8]}",
        lease_seconds=3.0,
        celery_republish_after_seconds=60.0,
    )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., list[Worker]]]:
    started: list[Worker] = []

    def start(settings: Settings, count: int) -> list[Worker]:
        new = start_workers(settings, tmp_path, count)
        started.extend(new)
        return new

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def repository(pg_url: str) -> Iterator[JobRepository]:
    engine = create_db_engine(pg_url)
    yield JobRepository(engine)
    engine.dispose()


def submit(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post("/v1/training-jobs", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def claims(repository: JobRepository, job_id: str) -> list[JobEvent]:
    """The claim events of a job: one per attempt that started."""
    with repository.factory() as session:
        return list(
            session.scalars(
                select(JobEvent)
                .where(
                    JobEvent.job_id == uuid.UUID(job_id),
                    JobEvent.status == JobStatus.RUNNING.value,
                    JobEvent.stage == JobStage.FETCHING_DATA.value,
                )
                .order_by(JobEvent.id)
            )
        )


def owner_pid(event: JobEvent) -> int:
    # "attempt 1 of 2 started on celery@host:PID:xxxxxx"
    assert event.message is not None
    return int(event.message.rsplit(":", 2)[1])


def wait_running(
    client: TestClient, job_id: str, *, attempt: int = 1, stage: str | None = "training"
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        body: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        running = body["status"] == "running" and body["attempt"] == attempt
        if running and stage in (None, body["stage"]):
            return body
        assert body["status"] in ("pending", "running"), body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_twenty_jobs_on_two_workers_each_complete_exactly_once(
    celery_settings: Settings, workers: Callable[..., list[Worker]], repository: JobRepository
) -> None:
    pool = workers(celery_settings, 2)
    with TestClient(create_app(celery_settings)) as client:
        job_ids = [submit(client, job_request(model_name=f"m{i}")) for i in range(20)]
        # Duplicate messages, as a redelivery or the reaper's re-publish would send: the
        # conditional claim makes them do nothing.
        celery = create_celery_app(celery_settings)
        for job_id in job_ids[:5]:
            celery.tasks[TASK_NAME].apply_async(args=(job_id,), task_id=job_id)
        celery.close()
        done = [wait_for_job(client, job_id, timeout=240) for job_id in job_ids]

    assert [d["status"] for d in done] == ["completed"] * 20, done
    assert [d["attempt"] for d in done] == [1] * 20
    owners = set()
    for job_id in job_ids:
        started = claims(repository, job_id)
        assert len(started) == 1, [e.message for e in started]
        owners.add(owner_pid(started[0]))
        with repository.factory() as session:
            finished = session.scalars(
                select(JobEvent.status).where(
                    JobEvent.job_id == uuid.UUID(job_id),
                    JobEvent.status == JobStatus.COMPLETED.value,
                )
            ).all()
        assert len(finished) == 1
    assert owners == {w.pid for w in pool}  # both workers took jobs
    # Every message, duplicates included, was taken and acknowledged.
    deadline = time.monotonic() + 10
    while redis_counts(celery_settings.celery_broker_url, celery_settings.celery_queue) != (0, 0):
        assert time.monotonic() < deadline, redis_counts(
            celery_settings.celery_broker_url, celery_settings.celery_queue
        )
        time.sleep(0.1)
    assert sum(w.log().count("is not pending; nothing to do") for w in pool) == 5


def test_kill_9_of_a_worker_mid_job_requeues_it_to_the_other_and_fences_the_dead_attempt(
    celery_settings: Settings, workers: Callable[..., list[Worker]], repository: JobRepository
) -> None:
    pool = workers(celery_settings, 2)
    with TestClient(create_app(celery_settings)) as client:
        job_id = submit(client, LONG_JOB)
        wait_running(client, job_id)
        first = claims(repository, job_id)[0]
        victim = next(w for w in pool if w.pid == owner_pid(first))
        survivor = next(w for w in pool if w is not victim)
        doomed = descendants(victim.pid)
        training = attempt_processes(victim.pid)
        assert training, "the attempt's process was not found"

        victim.kill()
        # The attempt dies with its worker at once (it does not train on alone until its
        # next fenced write fails); the forkserver and resource tracker follow.
        left = wait_until_gone(training, timeout=5)
        assert left == [], describe(left)
        left = wait_until_gone(doomed, timeout=20)
        assert left == [], describe(left)

        # The lease expires, the API's reaper requeues and publishes, the survivor claims.
        wait_running(client, job_id, attempt=2, stage=None)
        job = uuid.UUID(job_id)
        # A late write from the killed attempt (attempt 1) is rejected by the fencing token.
        assert not repository.advance(
            job, 1, stage=JobStage.EVALUATING, progress=99.0, message="late"
        )
        assert not repository.finish(job, 1, status=JobStatus.FAILED, message="late failure")
        assert not repository.requeue(job, 1, message="late requeue")

        done = wait_for_job(client, job_id, timeout=180)

    assert done["status"] == "completed", done
    assert done["attempt"] == 2
    assert done["progress"] == 100
    second = claims(repository, job_id)[1]
    assert owner_pid(second) == survivor.pid
    events = client.get(f"/v1/training-jobs/{job_id}/events").json()
    requeued = [e for e in events if e["status"] == "pending" and e["attempt"] == 1]
    assert len(requeued) == 1
    assert "lease expired" in requeued[0]["message"]
    assert all(e["message"] not in ("late", "late failure") for e in events)
    # And after the end, still nothing the dead attempt writes lands.
    assert not repository.finish(uuid.UUID(job_id), 1, status=JobStatus.FAILED, message="late")
    with repository.factory() as session:
        row = session.get(TrainingJob, uuid.UUID(job_id))
        assert row is not None
        assert (row.status, row.attempt, row.error_type) == ("completed", 2, None)


def test_kill_9_when_no_attempt_is_left_fails_the_job_clearly(
    celery_settings: Settings, workers: Callable[..., list[Worker]], repository: JobRepository
) -> None:
    settings = celery_settings.model_copy(update={"max_attempts": 1})
    pool = workers(settings, 2)
    with TestClient(create_app(settings)) as client:
        job_id = submit(client, LONG_JOB)
        wait_running(client, job_id)
        victim = next(w for w in pool if w.pid == owner_pid(claims(repository, job_id)[0]))
        victim.kill()
        done = wait_for_job(client, job_id, timeout=60)

    assert done["status"] == "failed", done
    assert done["attempt"] == 1
    assert done["error"]["type"] == "WorkerLostError"
    assert done["error"]["stage"] == "training"
    assert "lease expired" in done["error"]["message"]
    assert "gave up after 1 of 1 attempts" in done["error"]["message"]
    assert len(claims(repository, job_id)) == 1  # the other worker never started it


def test_cancel_of_a_job_running_on_a_worker_stops_it_within_two_seconds(
    celery_settings: Settings, workers: Callable[..., list[Worker]]
) -> None:
    (worker,) = workers(celery_settings, 1)
    search = job_request(
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier"},
        hyperparameter_tuning_config={
            "strategy": "random",
            "search_space": {"n_estimators": {"type": "int", "low": 200, "high": 400}},
            "max_trials": 200,
            "parallel_trials": 2,
        },
    )
    with TestClient(create_app(celery_settings)) as client:
        job_id = submit(client, search)
        wait_running(client, job_id, stage="tuning")
        # The attempt leads its process group and runs the search's trials itself (one
        # worker of concurrency 1 leaves no slot for a trial token).
        deadline = time.monotonic() + 60
        while len(processes := attempt_processes(worker.pid)) < 1:
            assert time.monotonic() < deadline, processes
            time.sleep(0.1)

        started = time.monotonic()
        assert client.post(f"/v1/training-jobs/{job_id}/cancel").status_code == 202
        done = wait_for_job(client, job_id, timeout=10)
        elapsed = time.monotonic() - started

        assert done["status"] == "cancelled", done
        assert elapsed < 2.0
        assert wait_until_gone(processes, timeout=max(0.0, 2.0 - elapsed)) == []
        assert worker.process is not None
        assert worker.process.poll() is None  # the worker itself lives on

        # The worker goes on taking jobs.
        after = wait_for_job(client, submit(client, job_request()), timeout=60)
        assert after["status"] == "completed", after


def test_api_restart_while_workers_run_jobs_loses_nothing(
    celery_settings: Settings, workers: Callable[..., list[Worker]], repository: JobRepository
) -> None:
    workers(celery_settings, 2)
    medium = job_request(
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 60}},
    )
    with TestClient(create_app(celery_settings)) as client:
        before = [submit(client, medium) for _ in range(6)]
        wait_running(client, before[0], stage=None)
    # The API is down; the workers go on.
    time.sleep(1.0)
    with TestClient(create_app(celery_settings)) as client:
        after = [submit(client, medium) for _ in range(2)]
        done = [wait_for_job(client, job_id, timeout=180) for job_id in before + after]

    assert [d["status"] for d in done] == ["completed"] * 8, done
    assert all(len(claims(repository, job_id)) == 1 for job_id in before + after)


def test_a_job_whose_message_was_lost_is_published_again(
    celery_settings: Settings, workers: Callable[..., list[Worker]], repository: JobRepository
) -> None:
    workers(celery_settings, 1)
    # An API whose broker is unreachable: the submit still commits (and answers at once),
    # but no message reaches the workers.
    dead = celery_settings.model_copy(update={"celery_broker_url": "redis://127.0.0.1:9/0"})
    with TestClient(create_app(dead)) as client:
        started = time.monotonic()
        lost = [submit(client, job_request()) for _ in range(3)]
        assert time.monotonic() - started < 3.0
        time.sleep(2.0)
        assert {client.get(f"/v1/training-jobs/{j}").json()["status"] for j in lost} == {"pending"}

    # A healthy API's reaper publishes the jobs that stayed pending too long.
    healthy = celery_settings.model_copy(update={"celery_republish_after_seconds": 1.0})
    with TestClient(create_app(healthy)) as client:
        done = [wait_for_job(client, job_id, timeout=120) for job_id in lost]
    assert [d["status"] for d in done] == ["completed"] * 3, done
    assert all(len(claims(repository, job_id)) == 1 for job_id in lost)
