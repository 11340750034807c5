"""The writes of a running attempt, held for a moment and written together.

A tiny job used to make one fenced transaction per step (preprocessing, its end, training,
its end, evaluating, its report, storing artifacts) before the final one: on SQLite each
takes the database's one write lock, on PostgreSQL each is a few round trips. Now a step is
held for at most ``HOLD_SECONDS`` (a thread writes it when nothing else came), and every step
of that moment is one fenced transaction: the row gets the latest state, and each stage
entered gets its own event, with the time it was entered, in order. The final write takes
what is still held with it. A reader therefore sees a stage at most ``HOLD_SECONDS`` late,
and a process that dies before a held step is written has not claimed it happened.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

from app.jobs.lifecycle import JobStage, JobStatus, StageEntry
from app.jobs.models import utcnow
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)

# The longest a step waits before it is written (a status reader sees it this late at most).
HOLD_SECONDS = 0.1
EXIT_LOST_CLAIM = 3


class LostClaim(Exception):
    """This attempt no longer holds the job (cancelled, reaped or timed out)."""


class _Held:
    """What is waiting to be written: the row's latest values and the stages entered."""

    def __init__(self) -> None:
        self.stage: JobStage | None = None
        self.progress = 0.0
        self.message: str | None = None
        self.fields: dict[str, Any] = {}
        self.entered: list[StageEntry] = []
        self.since = 0.0

    def __bool__(self) -> bool:
        return self.stage is not None


class StageWriter:
    """Holds the attempt's steps up to ``hold_seconds``, then writes them in one transaction.

    The attempt's own thread adds steps and makes the final write; a thread of this writer
    writes steps that waited their time. Writes are made one at a time, in order. A write
    that finds the claim gone ends the process (``EXIT_LOST_CLAIM``) when it is the writer's
    own thread, or raises ``LostClaim`` in the attempt's thread; any other error of a
    background write is raised in the attempt's thread at its next step.
    """

    def __init__(
        self,
        repository: JobRepository,
        job_id: uuid.UUID,
        attempt: int,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self.repository = repository
        self.job_id = job_id
        self.attempt = attempt
        self.hold_seconds = hold_seconds
        self.progress = 0.0
        self._held = _Held()
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def step(
        self,
        stage: JobStage,
        progress: float,
        message: str | None,
        *,
        new_stage: bool,
        fields: dict[str, Any] | None = None,
        now: bool = False,
    ) -> None:
        """Hold one step (``now``: write it, and everything held, before returning)."""
        self._raise_error()
        self.progress = max(self.progress, progress)
        with self._lock:
            held = self._held
            first = not held
            if first:
                held.since = time.monotonic()
            held.stage = stage
            held.progress = self.progress
            if message is not None:
                held.message = message
            held.fields.update(fields or {})
            if new_stage:
                held.entered.append(StageEntry(stage, self.progress, message, utcnow()))
            due = now or time.monotonic() - held.since >= self.hold_seconds
            if not due:
                self._start_thread()
                if first:  # else the thread already waits for this moment's end
                    self._lock.notify()
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what is held, in the attempt's thread (raises ``LostClaim``)."""
        if not self._write():
            raise LostClaim()
        self._raise_error()

    def finish(
        self,
        *,
        status: JobStatus,
        stage: JobStage | None = None,
        message: str | None,
        error: tuple[str, str | None, str] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> bool:
        """The attempt's final write, with what is still held, in one transaction. A failure
        first writes what is held (the stage it failed in), then the outcome."""
        self.close()
        if status is not JobStatus.COMPLETED:
            self._write()
        with self._write_lock:
            with self._lock:
                held, self._held = self._held, _Held()
            return self.repository.finish(
                self.job_id,
                self.attempt,
                status=status,
                stage=stage,
                message=message,
                error=error,
                # A held step's fields (lineage, estimate) go with it; a finished job has no
                # time left, whatever the last progress step said.
                fields={**held.fields, "eta_seconds": None, **(fields or {})},
                entered=held.entered,
            )

    def close(self) -> None:
        """Stop the writer's thread (what is held stays held for ``flush`` or ``finish``)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- inside -----------------------------------------------------------------------------

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _write(self) -> bool:
        """Write what is held; False when the claim is gone."""
        with self._write_lock:
            with self._lock:
                held, self._held = self._held, _Held()
            if not held:
                return True
            assert held.stage is not None
            return self.repository.advance(
                self.job_id,
                self.attempt,
                stage=held.stage,
                progress=held.progress,
                message=held.message,
                fields=held.fields,
                entered=held.entered,
            )

    def _start_thread(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name="trainyard-stage-writer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._held:
                    self._lock.wait()
                if self._closed:
                    return
                wait = self._held.since + self.hold_seconds - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
            try:
                kept = self._write()
            except Exception as exc:
                logger.warning("writing the attempt's progress failed: %s", exc)
                self._error = exc
                return
            if not kept:
                logger.info("the attempt lost its claim on job %s; exiting", self.job_id)
                os._exit(EXIT_LOST_CLAIM)
