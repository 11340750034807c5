"""The streams follow the database whoever writes it: a Celery worker in another process
trains the job, the API's hub sees its changes through PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from app.config import Settings
from tests.execution import test_celery_executor as celery_tests
from tests.execution.celery_workers import Worker
from tests.fixtures.jobs import job_request
from tests.streams.conftest import serve
from tests.streams.test_streams import SEARCH, polled_events, read_stream, same_events

pytestmark = pytest.mark.postgres

# The Celery tests' fixtures: Redis, the PostgreSQL database, settings, real workers.
redis_url = celery_tests.redis_url
pg_url = celery_tests.pg_url
celery_settings = celery_tests.celery_settings
workers = celery_tests.workers


def test_a_job_trained_by_a_celery_worker_streams_every_event_and_resumes(
    celery_settings: Settings, workers: Callable[..., list[Worker]]
) -> None:
    workers(celery_settings, 1)
    settings = celery_settings.model_copy(update={"stream_poll_seconds": 0.1})
    with serve(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        job = http.post(
            "/v1/training-jobs", json=job_request(hyperparameter_tuning_config=SEARCH)
        ).json()
        path = f"/v1/training-jobs/{job['job_id']}/stream"
        whole = read_stream(http, path)
        events = [f for f in whole if f.event == "event"]
        same_events(events, polled_events(http, job["job_id"]))
        assert events[-1].data["status"] == "completed"
        assert len([f for f in whole if f.event == "trial"]) == 3
        middle = events[len(events) // 2]
        resumed = read_stream(http, path, last_event_id=middle.id)
    rest = [f.data for f in resumed if f.event == "event"]
    assert rest == [f.data for f in events if f.data["id"] > middle.data["id"]]
