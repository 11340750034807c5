"""Retention: a thread of the API process deletes finished jobs older than
``TRAINYARD_RETENTION_DAYS``, in batches of ``TRAINYARD_RETENTION_BATCH_SIZE`` jobs per
transaction with a short pause between, so no batch holds the write lock for long and
submits and status changes go on between them. Off by default."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from app.config import Settings
from app.jobs.models import utcnow
from app.jobs.service import JobService

logger = logging.getLogger(__name__)

# Between two batches: room for the writes that waited on the lock.
PAUSE_SECONDS = 0.05


class RetentionSweeper:
    def __init__(self, *, jobs: JobService, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.settings.retention_days is None:
            return
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                logger.exception("retention sweep failed; it runs again at the next interval")
            self._stop.wait(self.settings.retention_interval_seconds)

    def sweep(self, now: datetime | None = None) -> int:
        """Delete every finished job past retention at ``now``, batch by batch; how many."""
        assert self.settings.retention_days is not None
        before = (now or utcnow()) - timedelta(days=self.settings.retention_days)
        deleted = 0
        while not self._stop.is_set():
            removed = self.jobs.repository.delete_expired(
                before=before, limit=self.settings.retention_batch_size
            )
            if not removed:
                break
            self.jobs.forget(removed)
            deleted += len(removed)
            self._stop.wait(PAUSE_SECONDS)
        if deleted:
            logger.info("retention deleted %d jobs that finished before %s", deleted, before)
        return deleted
