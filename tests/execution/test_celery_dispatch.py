"""The celery executor's configuration, and what the API side puts on the broker (real Redis,
no worker): the message after the commit, the reaper's requeue and re-publish."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.concurrency import get_implementation
from fastapi.testclient import TestClient

from app.config import Settings
from app.execution.celery_app import (
    TASK_NAME,
    create_celery_app,
    pool_name,
    visibility_timeout,
)
from app.execution.celery_executor import CeleryExecutor
from app.execution.local import LocalExecutor
from app.jobs.repository import JobRepository
from app.main import create_app
from app.service import MLModelTrainingService
from tests.execution.celery_workers import ROOT, flush_redis, redis_or_skip, worker_environment
from tests.fixtures.jobs import job_request


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield redis_or_skip()
    flush_redis()


@pytest.fixture
def celery_settings(settings: Settings, redis_url: str) -> Settings:
    return settings.model_copy(
        update={
            "executor": "celery",
            "celery_broker_url": redis_url,
            "celery_queue": f"training-{uuid.uuid4().hex[:8]}",
        }
    )


def queued(settings: Settings) -> list[dict[str, Any]]:
    """The messages waiting in the training queue, oldest first, as Redis holds them."""
    client = redis.Redis.from_url(settings.celery_broker_url)
    try:
        raw = client.lrange(settings.celery_queue, 0, -1)
    finally:
        client.close()
    return [json.loads(item) for item in reversed(raw)]  # kombu LPUSHes, workers BRPOP


def test_the_celery_app_is_configured_for_at_least_once_delivery_of_json() -> None:
    settings = Settings(celery_queue="gpu-training", max_runtime_seconds_limit=7 * 86400)
    conf = create_celery_app(settings).conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_pool == "threads"
    assert conf.task_ignore_result is True
    assert conf.task_default_queue == "gpu-training"
    assert conf.task_routes[TASK_NAME]["queue"] == "gpu-training"
    # Redis would hand a running job's message to a second worker after the timeout.
    timeout = conf.broker_transport_options["visibility_timeout"]
    assert timeout == visibility_timeout(settings)
    assert timeout > settings.max_runtime_seconds_limit


def test_the_executor_is_chosen_by_settings(settings: Settings) -> None:
    local = MLModelTrainingService(settings=settings)
    celery = MLModelTrainingService(settings=settings.model_copy(update={"executor": "celery"}))
    try:
        assert isinstance(local.executor, LocalExecutor)
        assert isinstance(celery.executor, CeleryExecutor)
        assert celery.executor.queue == settings.celery_queue
    finally:
        local.close()
        celery.close()


@pytest.mark.parametrize(
    ("pool", "name"), [("threads", "threads"), ("solo", "solo"), ("processes", "prefork")]
)
def test_pools_are_recognised_by_their_implementation(pool: str, name: str) -> None:
    assert pool_name(get_implementation(pool)) == name


def test_a_worker_refuses_the_prefork_pool(settings: Settings) -> None:
    # Prefork children are daemonic: multiprocessing would refuse to start the attempt.
    # ("prefork" itself is overridden by our worker_pool setting; its alias is not.)
    env = worker_environment(
        settings.model_copy(update={"celery_broker_url": "redis://127.0.0.1:9/0"})
    )
    command = [sys.executable, "-m", "celery", "-A", "app.execution.celery_app", "worker"]
    result = subprocess.run(
        [*command, "--pool=processes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "need --pool=threads (or solo), not prefork" in result.stderr + result.stdout


def test_submit_publishes_one_json_message_named_by_the_job_id_after_the_commit(
    celery_settings: Settings,
) -> None:
    with TestClient(create_app(celery_settings)) as client:
        response = client.post("/v1/training-jobs", json=job_request())
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 10
        while not (messages := queued(celery_settings)):
            assert time.monotonic() < deadline, "no message was published"
            time.sleep(0.05)
        assert client.get(f"/v1/training-jobs/{job_id}").json()["status"] == "pending"

    (message,) = messages
    assert message["content-type"] == "application/json"
    assert message["headers"]["id"] == job_id
    assert message["headers"]["task"] == TASK_NAME
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([job_id], {})


def test_the_reaper_requeues_an_expired_lease_and_republishes_stale_pending_jobs(
    celery_settings: Settings,
) -> None:
    settings = celery_settings.model_copy(update={"celery_republish_after_seconds": 0.5})
    service = MLModelTrainingService(settings=settings)
    repository: JobRepository = service.repository
    executor = CeleryExecutor.from_settings(repository, settings)
    try:
        # Two pending jobs recorded without their messages (the API died before publishing),
        # and one running job whose worker died (its lease expired).
        def record() -> uuid.UUID:
            return service.jobs.record(service_request(), idempotency_key=None, tenant="")[0].job_id

        lost = [record() for _ in range(2)]
        dead = record()
        claim = repository.claim(owner="gone@host:1:x", lease_seconds=0.1, job_id=dead)
        assert claim is not None
        assert queued(settings) == []

        time.sleep(0.6)
        executor.reap()
        executor.flush()
        ids = [m["headers"]["id"] for m in queued(settings)]
        assert ids[0] == str(dead)  # the requeued job goes out at once
        assert sorted(ids[1:]) == sorted(map(str, lost))
        row = service.jobs.get_status(dead, tenant="")
        assert (row.status, row.attempt) == ("pending", 1)
        assert "lease expired" in (row.message or "")

        # Published just now: the next pass does not send them again.
        executor.reap()
        executor.flush()
        assert len(queued(settings)) == 3
    finally:
        executor.stop(0)
        service.close()


def service_request() -> Any:
    from app.schemas import TrainingJobRequest

    return TrainingJobRequest.model_validate(job_request())
