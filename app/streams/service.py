"""The frames of one stream: a snapshot, the backlog past ``Last-Event-ID``, then live changes.

Per stream: subscribe to the hub first (so nothing committed from then on is missed), read
the backlog up to the hub's position at that moment from the database (once), then take the
hub's changes, skipping what the cursor already passed. A job's stream ends after its
terminal event, the trials and log lines before it, and a last status snapshot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.core import sse
from app.jobs.filters import JobFilter
from app.jobs.logs import attempt_logs
from app.jobs.models import JobEvent, Trial
from app.jobs.repository import JobRepository
from app.jobs.service import JobService
from app.streams.cursor import Cursor
from app.streams.hub import TERMINAL, Change, StreamHub, Subscription, event_change, trial_change

LOG_READ_BYTES = 256 * 1024
BACKLOG_BATCH = 1000


def read_log_lines(
    artifact_root: Path, job_id: uuid.UUID, cursor: Cursor
) -> list[tuple[Cursor, dict[str, Any]]]:
    """Whole lines of the job's attempt logs past ``cursor``, one frame per attempt read."""
    frames = []
    for attempt, path in attempt_logs(artifact_root, str(job_id)):
        if attempt < cursor.attempt:
            continue
        start = cursor.offset if attempt == cursor.attempt else 0
        with path.open("rb") as handle:
            handle.seek(start)
            chunk = handle.read(LOG_READ_BYTES)
        end = chunk.rfind(b"\n") + 1
        if end:
            cursor = cursor.at_log(attempt, start + end)
            lines = chunk[:end].decode("utf-8", errors="replace").splitlines()
            frames.append((cursor, {"attempt": attempt, "lines": lines}))
        if len(chunk) == LOG_READ_BYTES or end < len(chunk):
            break  # more (or a line being written) in this attempt: later attempts wait
    return frames


class StreamService:
    def __init__(
        self, *, jobs: JobService, repository: JobRepository, hub: StreamHub, heartbeat: float
    ) -> None:
        self.jobs = jobs
        self.repository = repository
        self.hub = hub
        self.heartbeat = heartbeat
        self.tick = hub.poll_seconds

    # -- one job ----------------------------------------------------------------------------

    async def job_stream(
        self, job_id: uuid.UUID, *, tenant: str, last_event_id: str | None
    ) -> AsyncIterator[bytes]:
        """Check the id and the cursor now (404, 422); the frames come from the iterator."""
        cursor = Cursor.parse(last_event_id)
        await asyncio.to_thread(self.jobs.owned_job, job_id, tenant)
        return self._job_frames(job_id, tenant, cursor)

    async def _job_frames(
        self, job_id: uuid.UUID, tenant: str, cursor: Cursor
    ) -> AsyncIterator[bytes]:
        subscription = await self.hub.subscribe(
            lambda change: change.job_id == job_id, logs_of=job_id
        )
        try:
            status = await asyncio.to_thread(self.jobs.get_status, job_id, tenant=tenant)
            yield sse.frame("status", status.model_dump(mode="json"), id=cursor.render(logs=True))
            stream = _Frames(cursor, logs=True)
            backlog, pending = await asyncio.to_thread(self._backlog, subscription, cursor, job_id)
            for frame in map(stream.frame, backlog):
                if frame:
                    yield frame
            # Ended already: the cursor is past the terminal event, whose status was just sent.
            ended_before = status.status in TERMINAL and not pending and not stream.ended
            stream.ended = stream.ended or ended_before
            async for frame in self._live(subscription, stream, job_id=job_id):
                yield frame
            if stream.ended:
                async for frame in self._finish(stream, job_id, tenant, status=not ended_before):
                    yield frame
        finally:
            subscription.close()

    async def _finish(
        self, stream: _Frames, job_id: uuid.UUID, tenant: str, *, status: bool
    ) -> AsyncIterator[bytes]:
        """After the terminal event: every trial and log line left, and the last status."""
        rows = await asyncio.to_thread(
            self.repository.rows_after, Trial, stream.cursor.trial, job_id=job_id
        )
        for frame in (stream.frame(trial_change(row)) for row in rows):
            if frame:
                yield frame
        for frame in await asyncio.to_thread(self._logs, stream, job_id):
            yield frame
        if status:
            job = await asyncio.to_thread(self.jobs.get_status, job_id, tenant=tenant)
            yield sse.frame("status", job.model_dump(mode="json"), id=stream.render())

    def _logs(self, stream: _Frames, job_id: uuid.UUID) -> list[bytes]:
        found = read_log_lines(self.jobs.settings.artifact_root, job_id, stream.cursor)
        frames = []
        for cursor, data in found:
            stream.cursor = cursor
            frames.append(sse.frame("log", {"job_id": str(job_id), **data}, id=stream.render()))
        return frames

    # -- a tenant's jobs --------------------------------------------------------------------

    async def tenant_stream(
        self, where: JobFilter, *, last_event_id: str | None
    ) -> AsyncIterator[bytes]:
        cursor = Cursor.parse(last_event_id)
        return self._tenant_frames(where, cursor)

    async def _tenant_frames(self, where: JobFilter, cursor: Cursor) -> AsyncIterator[bytes]:
        def accept(change: Change) -> bool:
            status = change.status if change.kind != "trial" else None
            return (
                change.tenant == where.tenant
                and (where.status is None or status in (None, where.status.value))
                and where.model_name in (None, change.model_name)
                and where.experiment_name in (None, change.experiment_name)
            )

        subscription = await self.hub.subscribe(accept)
        try:
            stream = _Frames(cursor, logs=False)
            yield sse.frame("ready", {"cursor": stream.render()}, id=stream.render())
            backlog, _ = await asyncio.to_thread(self._backlog, subscription, cursor, None)
            for frame in (stream.frame(c) for c in backlog if accept(c)):
                if frame:
                    yield frame
            async for frame in self._live(subscription, stream, job_id=None):
                yield frame
        finally:
            subscription.close()

    # -- shared -----------------------------------------------------------------------------

    def _backlog(
        self, subscription: Subscription, cursor: Cursor, job_id: uuid.UUID | None
    ) -> tuple[list[Change], bool]:
        """Trials and events past the cursor up to the hub's position when it subscribed,
        and whether any event lies past that position (it will come live)."""
        found: list[Change] = []
        pending = False
        for table, after, floor, make in (
            (Trial, cursor.trial, subscription.trial_floor, trial_change),
            (JobEvent, cursor.event, subscription.event_floor, event_change),
        ):
            while True:
                rows = self.repository.rows_after(table, after, job_id=job_id, limit=BACKLOG_BATCH)
                found.extend(make(row) for row in rows if row[0].id <= floor)
                if table is JobEvent and any(row[0].id > floor for row in rows):
                    pending = True
                if len(rows) < BACKLOG_BATCH or rows[-1][0].id > floor:
                    break
                after = rows[-1][0].id
        return found, pending

    async def _live(
        self, subscription: Subscription, stream: _Frames, *, job_id: uuid.UUID | None
    ) -> AsyncIterator[bytes]:
        quiet_since = time.monotonic()
        # The log as it is now; from here on the hub says when it grew.
        logs_grew = job_id is not None
        while not stream.ended:
            if logs_grew and job_id is not None:
                logs_grew = False
                for frame in await asyncio.to_thread(self._logs, stream, job_id):
                    quiet_since = time.monotonic()
                    yield frame
            try:
                change = await asyncio.wait_for(subscription.queue.get(), timeout=self.tick)
            except TimeoutError:
                change = False  # type: ignore[assignment]
            if change is None:
                return  # the hub dropped this stream (too slow, or shutting down)
            frames: list[bytes] = []
            if change and change.kind == "log":
                logs_grew = True
            elif change:
                frames.append(stream.frame(change))
                while stream.ended and not subscription.queue.empty():
                    rest = subscription.queue.get_nowait()
                    if rest is not None and rest.kind != "log":
                        frames.append(stream.frame(rest))
            frames = [frame for frame in frames if frame]
            if frames:
                quiet_since = time.monotonic()
                for frame in frames:
                    yield frame
            elif time.monotonic() - quiet_since >= self.heartbeat:
                quiet_since = time.monotonic()
                yield sse.HEARTBEAT


class _Frames:
    """A stream's cursor, and the frame of each change (empty when the cursor passed it)."""

    def __init__(self, cursor: Cursor, *, logs: bool) -> None:
        self.cursor = cursor
        self.logs = logs
        self.ended = False

    def render(self) -> str:
        return self.cursor.render(logs=self.logs)

    def frame(self, change: Change) -> bytes:
        if change.kind == "event":
            if change.seq <= self.cursor.event:
                return b""
            self.cursor = self.cursor.past_event(change.seq)
            self.ended = self.ended or (self.logs and change.terminal)
        elif change.kind == "trial":
            if change.seq <= self.cursor.trial:
                return b""
            self.cursor = self.cursor.past_trial(change.seq)
        return sse.frame(change.kind, change.data, id=self.render())
