"""One reader of the database for every open stream of the process, fanning out what it reads.

A stream never queries the database per tick: the hub does, once for all of them, and only
while some stream is open. Each read is three indexed range scans: ``job_event`` and
``trial`` past the hub's position (``IdFloor``), and ``training_job`` rows updated in the last
few seconds (progress moves without an event). On PostgreSQL the hub reads when a ``NOTIFY``
from the repository wakes it (at most every ``STREAM_POLL_SECONDS``, and every
``STREAM_FALLBACK_POLL_SECONDS`` regardless); on SQLite it reads every ``STREAM_POLL_SECONDS``.
Whoever wrote the change (this process, a forkserver child, a Celery worker elsewhere), the
hub sees it, because it reads the database, the only truth.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.db import listen
from app.core.sequence import IdFloor
from app.jobs.lifecycle import JobStatus
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

    kind: str  # "event" | "trial" | "status"
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

    def __init__(self, hub: StreamHub, accept: Callable[[Change], bool]) -> None:
        self.hub = hub
        self.accept = accept
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.event_floor, self.trial_floor = hub.sent

    def offer(self, change: Change) -> None:
        if self.accept(change):
            self.queue.put_nowait(change)
            if self.queue.qsize() > MAX_QUEUED:
                self.hub.unsubscribe(self)
                self.queue.put_nowait(None)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class StreamHub:
    def __init__(
        self, repository: JobRepository, *, poll_seconds: float, fallback_poll_seconds: float
    ) -> None:
        self.repository = repository
        self.poll_seconds = poll_seconds
        self.listening = repository.engine.dialect.name == "postgresql"
        self.idle_seconds = fallback_poll_seconds if self.listening else poll_seconds
        self.subscriptions: set[Subscription] = set()
        self.events: IdFloor[Any] = IdFloor(0)
        self.trials: IdFloor[Any] = IdFloor(0)
        self.sent = (0, 0)
        self.reads = 0
        self._snapshots: dict[uuid.UUID, tuple[Any, ...]] = {}
        self._since: datetime = utcnow()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._synced = False

    async def subscribe(self, accept: Callable[[Change], bool]) -> Subscription:
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
        subscription = Subscription(self, accept)
        self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for subscription in list(self.subscriptions):
            subscription.queue.put_nowait(None)
        self.subscriptions.clear()

    def _notified(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

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
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.subscriptions:
                self._synced = False
                continue
            try:
                changes = await asyncio.to_thread(self._read)
            except Exception:
                logger.exception("the stream hub could not read the database")
                changes = []
            self.sent = (self.events.floor, self.trials.floor)
            for change in changes:
                for subscription in list(self.subscriptions):
                    subscription.offer(change)
            # A burst of NOTIFYs (progress of many jobs) costs one read per interval.
            await asyncio.sleep(self.poll_seconds if self.listening else 0)

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
        return changes + self._statuses()

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
