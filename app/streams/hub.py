"""One reader of the database for every open stream of the process, fanning out what it reads.

A stream never queries the database per tick: the hub does, once for all of them, and only
while some stream is open. Each read is three indexed range scans: ``job_event`` and
``trial`` past the hub's position (``IdFloor``), and ``training_job`` rows updated in the last
few seconds (progress moves without an event). It also looks at the size of the attempt logs of
the jobs whose streams follow logs (one directory listing per such job per read, in the
hub's thread) and wakes those streams only when a log grew: no stream touches a file on the
event loop, or at all while its log is quiet. On PostgreSQL the hub reads when a ``NOTIFY``
from the repository wakes it (at most every ``STREAM_POLL_SECONDS``, and every
``STREAM_FALLBACK_POLL_SECONDS`` regardless); on SQLite it reads every ``STREAM_POLL_SECONDS``.
Whoever wrote the change (this process, a forkserver child, a Celery worker elsewhere), the
hub sees it, because it reads the database, the only truth.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.core.db import CommitWatch, listen
from app.core.sequence import IdFloor
from app.jobs.lifecycle import JobStatus
from app.jobs.logs import attempt_logs
from app.jobs.models import JobEvent, Trial, utcnow
from app.jobs.repository import FEED_CHANNEL, JobRepository
from app.jobs.schemas import JobEventResponse, TrialResponse
from app.jobs.service import to_status

logger = logging.getLogger(__name__)

TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# Writers stamp updated_at with their own clock before they commit: re-read this far back.
STATUS_OVERLAP = timedelta(seconds=3)
# A stream whose client reads slower than this many changes behind is closed; it resumes
# with Last-Event-ID and reads its backlog from the database.
MAX_QUEUED = 10_000


@dataclass(frozen=True)
class Change:
    """One frame's worth of news: an event, a trial, or a job's new status snapshot."""

    kind: str  # "event" | "trial" | "status" | "log" (a log grew: read it; no frame itself)
    seq: int  # the event's or trial's id; 0 for a status
    job_id: uuid.UUID
    tenant: str
    model_name: str
    experiment_name: str | None
    status: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.kind == "event" and JobStatus(self.status) in TERMINAL


def event_change(row: Any) -> Change:
    event, tenant, model_name, experiment_name = row
    data = JobEventResponse.model_validate(event, from_attributes=True).model_dump(mode="json")
    data = {"id": event.id, "job_id": str(event.job_id), **data}
    return Change(
        "event", event.id, event.job_id, tenant, model_name, experiment_name, event.status, data
    )


def trial_change(row: Any) -> Change:
    trial, tenant, model_name, experiment_name = row
    data = TrialResponse.model_validate(trial, from_attributes=True).model_dump(mode="json")
    data = {"id": trial.id, "job_id": str(trial.job_id), **data}
    return Change("trial", trial.id, trial.job_id, tenant, model_name, experiment_name, "", data)


class Subscription:
    """What one stream receives: the changes ``accept`` takes, past the hub's position at the
    moment it subscribed (``event_floor``, ``trial_floor``); the rest it reads as backlog."""

    def __init__(
        self,
        hub: StreamHub,
        accept: Callable[[Change], bool],
        logs_of: uuid.UUID | None = None,
    ) -> None:
        self.hub = hub
        self.accept = accept
        self.logs_of = logs_of
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.event_floor, self.trial_floor = hub.sent

    def offer(self, change: Change) -> None:
        if change.kind == "log":
            if change.job_id == self.logs_of:
                self.queue.put_nowait(change)
        elif self.accept(change):
            self.queue.put_nowait(change)
            if self.queue.qsize() > MAX_QUEUED:
                self.hub.unsubscribe(self)
                self.queue.put_nowait(None)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class StreamHub:
    def __init__(
        self,
        repository: JobRepository,
        *,
        poll_seconds: float,
        fallback_poll_seconds: float,
        artifact_root: Path | None = None,
    ) -> None:
        self.repository = repository
        self.artifact_root = artifact_root
        self.poll_seconds = poll_seconds
        self.listening = repository.engine.dialect.name == "postgresql"
        self.idle_seconds = fallback_poll_seconds if self.listening else poll_seconds
        # SQLite: the tables are read only when something was committed since the last read.
        self.commits = CommitWatch(repository.engine)
        self.subscriptions: set[Subscription] = set()
        self.events: IdFloor[Any] = IdFloor(0)
        self.trials: IdFloor[Any] = IdFloor(0)
        self.sent = (0, 0)
        self.reads = 0
        self._snapshots: dict[uuid.UUID, tuple[Any, ...]] = {}
        self._log_sizes: dict[uuid.UUID, tuple[tuple[int, int], ...]] = {}
        self._since: datetime = utcnow()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._synced = False

    async def subscribe(
        self, accept: Callable[[Change], bool], *, logs_of: uuid.UUID | None = None
    ) -> Subscription:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stream-hub")
            if self.listening:
                loop = asyncio.get_running_loop()
                threading.Thread(
                    target=listen,
                    args=(self.repository.engine, FEED_CHANNEL, self._notified(loop), self._stop),
                    name="stream-hub-listen",
                    daemon=True,
                ).start()
        if not self.subscriptions and not self._synced:
            await asyncio.to_thread(self._sync)
        subscription = Subscription(self, accept, logs_of)
        self.subscriptions.add(subscription)
        if logs_of is not None and logs_of not in self._log_sizes:
            self._wake.set()  # start watching its log now, not at the next idle read
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    async def close(self) -> None:
        self._stop.set()
        self.commits.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for subscription in list(self.subscriptions):
            subscription.queue.put_nowait(None)
        self.subscriptions.clear()

    def _notified(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def wake() -> None:
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed as a NOTIFY came in: shutting down
                pass

        return wake

    def _sync(self) -> None:
        """Start from now: while no stream was open the hub read nothing."""
        event_id, trial_id = self.repository.last_ids()
        self.events, self.trials = IdFloor(event_id), IdFloor(trial_id)
        self.sent = (event_id, trial_id)
        self._since = utcnow()
        self._snapshots.clear()
        self._synced = True

    async def _run(self) -> None:
        last_read = 0.0
        while True:
            # Followed logs are looked at every poll interval; the database only when woken
            # (a NOTIFY, a new log stream) or once the idle interval is up.
            following = any(s.logs_of is not None for s in self.subscriptions)
            timeout = self.poll_seconds if following else self.idle_seconds
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass
            woken = self._wake.is_set()
            self._wake.clear()
            if not self.subscriptions:
                self._synced = False
                continue
            read_database = woken or time.monotonic() - last_read >= self.idle_seconds
            try:
                if read_database and not self.listening and not woken:
                    read_database = await asyncio.to_thread(self._committed)
                if read_database:
                    last_read = time.monotonic()
                    changes = await asyncio.to_thread(self._read)
                else:
                    changes = await asyncio.to_thread(self._grown_logs)
            except Exception:
                logger.exception("the stream hub could not read the database")
                changes = []
            self.sent = (self.events.floor, self.trials.floor)
            for change in changes:
                for subscription in list(self.subscriptions):
                    subscription.offer(change)
            # A burst of NOTIFYs (progress of many jobs) costs one read per interval.
            await asyncio.sleep(self.poll_seconds if self.listening and read_database else 0)

    def _committed(self) -> bool:
        """Something to read: a commit since the last read, or rows held behind a missing id."""
        return self.commits.changed() or self.events.waiting or self.trials.waiting

    def _read(self) -> list[Change]:
        self.reads += 1
        trials = self.trials.add(
            {row[0].id: row for row in self.repository.rows_after(Trial, self.trials.floor)}
        )
        events = self.events.add(
            {row[0].id: row for row in self.repository.rows_after(JobEvent, self.events.floor)}
        )
        if self.events.waiting or self.trials.waiting:
            self._wake.set()  # read again soon: a missing id holds rows back
        changes = [trial_change(row) for row in trials] + [event_change(row) for row in events]
        return changes + self._statuses() + self._grown_logs()

    def _grown_logs(self) -> list[Change]:
        """A ``log`` change per followed job whose attempt logs changed size since the last read."""
        followed = {s.logs_of for s in list(self.subscriptions) if s.logs_of is not None}
        if self.artifact_root is None or not followed:
            self._log_sizes.clear()
            return []
        found = []
        sizes = {}
        for job_id in followed:
            size = tuple(
                (attempt, _size(path))
                for attempt, path in attempt_logs(self.artifact_root, str(job_id))
            )
            sizes[job_id] = size
            if self._log_sizes.get(job_id) != size:
                found.append(Change("log", 0, job_id, "", "", None, "", {}))
        self._log_sizes = sizes
        return found

    def _statuses(self) -> list[Change]:
        now = utcnow()
        found = []
        for job in self.repository.jobs_updated_since(self._since - STATUS_OVERLAP):
            key = (job.status, job.stage, job.progress, job.message, job.attempt, job.updated_at)
            if self._snapshots.get(job.id) == key:
                continue
            self._snapshots[job.id] = key
            data = to_status(job).model_dump(mode="json")
            found.append(
                Change(
                    "status",
                    0,
                    job.id,
                    job.tenant,
                    job.model_name,
                    job.experiment_name,
                    job.status,
                    data,
                )
            )
        self._since = now
        horizon = now - STATUS_OVERLAP * 2
        self._snapshots = {k: v for k, v in self._snapshots.items() if v[5] >= horizon}
        return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1
