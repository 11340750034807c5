"""The ``celery`` executor, API side: publish committed jobs, and keep the queue honest.

A submit commits the job as pending and then calls ``notify``; a dispatcher thread publishes
``run_training_job`` with ``task_id=str(job_id)`` so the request never waits on the broker.
The same thread is the reaper of this mode, at start-up and every ``REAPER_INTERVAL_SECONDS``:

- ``running`` jobs whose lease expired (their worker died) are requeued or failed, and a
  requeued job is published at once;
- ``pending`` jobs untouched for ``CELERY_REPUBLISH_AFTER_SECONDS`` are published again: their
  message may be lost (the API died between commit and publish, the broker lost its data).

Publishing twice is harmless: the task claims the job with a conditional UPDATE first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from app.config import Settings
from app.execution.celery_app import TASK_NAME, create_celery_app
from app.execution.registration import end_reaped_runs
from app.integrations.registry.interface import ModelRegistryClientInterface
from app.jobs.lifecycle import AttemptOutcome
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)


class CeleryExecutor:
    def __init__(
        self,
        repository: JobRepository,
        celery: Any,
        *,
        queue: str,
        reaper_interval: float,
        republish_after: float,
        registry_client: ModelRegistryClientInterface | None = None,
    ) -> None:
        self.registry_client = registry_client
        self.repository = repository
        self.celery = celery
        self.queue = queue
        self.reaper_interval = reaper_interval
        self.republish_after = republish_after
        self._lock = threading.Lock()
        self._outbox: list[uuid.UUID] = []
        self._published: dict[uuid.UUID, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls,
        repository: JobRepository,
        settings: Settings,
        registry_client: ModelRegistryClientInterface | None = None,
    ) -> CeleryExecutor:
        return cls(
            repository,
            create_celery_app(settings),
            queue=settings.celery_queue,
            reaper_interval=settings.reaper_interval_seconds,
            republish_after=settings.celery_republish_after_seconds,
            registry_client=registry_client,
        )

    # -- the Executor protocol --------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="trainyard-celery-dispatch", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self, job_id: uuid.UUID | None = None) -> None:
        if job_id is not None:
            with self._lock:
                self._outbox.append(job_id)
        self._wake.set()

    def stop(self, grace_seconds: float) -> None:
        """Stop publishing and reaping. Jobs on workers go on: they do not need the API."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()  # what was submitted must not wait for the next start's reaper
        self.celery.close()

    # -- publishing -------------------------------------------------------------------------

    def publish(self, job_id: uuid.UUID) -> bool:
        """Send the job's message; False (and logged) when the broker cannot be reached."""
        try:
            self.celery.tasks[TASK_NAME].apply_async(
                args=(str(job_id),), task_id=str(job_id), queue=self.queue
            )
        except Exception as exc:
            logger.warning("job %s: could not publish (%s); will retry", job_id, exc)
            return False
        with self._lock:
            self._published[job_id] = time.monotonic()
        return True

    def flush(self) -> None:
        """Publish what ``notify`` queued, in order, until the broker refuses."""
        with self._lock:
            jobs, self._outbox = self._outbox, []
        for index, job_id in enumerate(jobs):
            if not self.publish(job_id):
                # The broker is down: keep the rest for the next pass instead of waiting
                # out the retry policy once per job.
                with self._lock:
                    self._outbox[:0] = jobs[index:]
                return

    def reap(self) -> None:
        """One pass of this mode's reaper (see the module docstring)."""
        reaped = self.repository.reap()
        end_reaped_runs(self.registry_client, reaped)
        for item in reaped:
            logger.warning("job %s: lease expired, %s", item.job_id, item.outcome)
            if item.outcome is AttemptOutcome.REQUEUED:
                self.notify(item.job_id)
        now = time.monotonic()
        with self._lock:
            self._published = {
                job_id: at
                for job_id, at in self._published.items()
                if now - at < self.republish_after
            }
            recent = set(self._published) | set(self._outbox)
        for job_id in self.repository.stale_pending(older_than_seconds=self.republish_after):
            if job_id not in recent:
                logger.warning("job %s: pending without progress; publishing it again", job_id)
                self.notify(job_id)

    def _loop(self) -> None:
        next_reap = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= next_reap:
                    next_reap = time.monotonic() + self.reaper_interval
                    self.reap()
                self.flush()
            except Exception:
                logger.exception("celery dispatcher iteration failed; retrying")
            self._wake.wait(timeout=max(0.0, min(1.0, next_reap - time.monotonic())))
