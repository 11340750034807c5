"""The one home of job state: every query and write on ``training_job``, ``job_event``, ``trial``.

Services decide, executors run; both persist through here. A status or stage change and its
event row are one call and one transaction (``changes.change``), so no change goes unrecorded.

A claim bumps ``attempt``; that number is the fencing token. Every later write of the attempt
is conditional on ``(id, attempt, status='running')``, so a write from an attempt that lost its
claim (killed, reaped, cancelled) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.core.db import (
    create_loop_read_engine,
    make_read_session_factory,
    make_session_factory,
    transaction,
)
from app.jobs import stats
from app.jobs.filters import JobFilter as JobFilter
from app.jobs.lifecycle import (
    STAGE_PROGRESS,
    AttemptOutcome,
    Claim,
    JobStage,
    JobStatus,
    Reaped,
    RunState,
    StageEntry,
)
from app.jobs.lifecycle import PendingLimitReached as PendingLimitReached
from app.jobs.models import TRIAL_FIELDS, JobEvent, TrainingJob, Trial, utcnow
from app.jobs.repository import claims, tally
from app.jobs.repository import status as status_read
from app.jobs.repository.changes import (
    VERSION_TRIES,
    AtLeast,
    Fence,
    IdempotencyKeyTaken,
    ModelVersionTaken,
    add_event,
    change,
    fence,
    insert_job,
)
from app.jobs.repository.feeds import FeedReads
from app.jobs.repository.pages import Page, Position, read_page
from app.jobs.repository.removal import Removed, expired, remove_job, remove_jobs
from app.jobs.repository.statements import (
    JOB_BY_ID,
    column_keys,
    job_of,
    submit_facts,
)
from app.jobs.repository.trials import TrialRepository


class JobRepository(FeedReads):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory = make_session_factory(engine)
        self.reader = make_read_session_factory(engine)
        self.trials = TrialRepository(self.factory, self.reader)
        self._status_reader: status_read.StatusReader | None = None

    def close(self) -> None:
        reader = self._status_reader
        if reader is not None and reader.engine is not self.engine:
            reader.engine.dispose()
        self.engine.dispose()

    # -- reads ------------------------------------------------------------------------------

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def get_job(self, job_id: uuid.UUID, *, tenant: str | None = None) -> TrainingJob | None:
        """The job (any tenant's when ``tenant`` is None); another tenant's job is None."""
        with self.reader() as session:
            row = session.execute(JOB_BY_ID, {"job_id": job_id}).first()
        if row is None or (tenant is not None and row.tenant != tenant):
            return None
        return job_of(row)  # transient: the ORM's load cost an attempt more than the read

    def read_status(self, job_id: uuid.UUID, *, tenant: str) -> status_read.StatusRow | None:
        """The status columns of the job, read without the ORM and on a pool of its own, so
        it may run on the event loop (``create_loop_read_engine``); None for another tenant's."""
        if self._status_reader is None:
            self._status_reader = status_read.StatusReader(create_loop_read_engine(self.engine))
        return self._status_reader.read(job_id, tenant)

    def find_by_idempotency_key(self, tenant: str, key: str) -> TrainingJob | None:
        with self.reader() as session:
            return session.scalar(
                select(TrainingJob).where(
                    TrainingJob.tenant == tenant, TrainingJob.idempotency_key == key
                )
            )

    def list_jobs(
        self,
        where: JobFilter,
        *,
        limit: int,
        offset: int = 0,
        after: Position | None = None,
        count: bool = False,
    ) -> Page:
        """A page of jobs, newest first, past ``offset`` or the cursor ``after``; the count of
        all that match only when ``count`` (it is the one read that grows with the table)."""
        with self.reader() as session:
            return read_page(session, where, limit=limit, offset=offset, after=after, count=count)

    def list_events(self, job_id: uuid.UUID) -> Sequence[JobEvent]:
        with self.reader() as session:
            return session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            ).all()

    def list_trials(self, job_id: uuid.UUID) -> list[Any]:
        """The job's trials by number: finished ones (``trial``) and the search's units still
        pending or running (``search_trial``), each number once."""
        finished = {trial.number: trial for trial in self.trials.finished(job_id)}
        waiting = [
            u for u in self.trials.units(job_id) if u.number not in finished and u.state != "done"
        ]
        return sorted([*finished.values(), *waiting], key=lambda t: t.number)

    def statistics(self) -> stats.JobStatistics:
        """Jobs by status, queue wait and run durations, from the tally (a few rows)."""
        with self.reader() as session:
            return tally.read(session)

    def recount(self) -> None:
        """Rebuild the tally from the job table (a repair; the bench after a bulk load)."""
        with self.engine.begin() as connection:
            tally.recount(connection)

    # -- on behalf of a caller --------------------------------------------------------------

    def create_job(self, values: dict[str, Any], *, pending_limit: int) -> TrainingJob:
        """Insert a pending job and its first event. ``model_version=None`` takes the next
        free number for the tenant's model name: the unique constraint decides, and a
        version a concurrent submit took first is retried with the next one. Raises
        ``PendingLimitReached``, ``ModelVersionTaken`` for a given version already used, or
        ``IdempotencyKeyTaken`` when a concurrent submit took the tenant's key first."""
        automatic = values.get("model_version") is None
        tried = 0
        for _ in range(VERSION_TRIES):
            attempt = dict(values)
            try:
                return self._insert_job(attempt, pending_limit=pending_limit, above=tried)
            except IntegrityError as exc:
                tried = int(attempt["model_version"]) if automatic else 0
                if "model_version" not in str(exc.orig):
                    if values.get("idempotency_key") is None:
                        raise
                    raise IdempotencyKeyTaken() from None
                if not automatic:
                    raise ModelVersionTaken() from None
        raise ModelVersionTaken()

    def _insert_job(self, values: dict[str, Any], *, pending_limit: int, above: int) -> TrainingJob:
        with transaction(self.factory) as session:
            # The tally's row, not a count: a submit costs the same however many jobs wait.
            automatic = values.get("model_version") is None
            pending, newest = submit_facts(
                session, values["tenant"], values["model_name"], version=automatic
            )
            if pending >= pending_limit:
                raise PendingLimitReached(pending)
            if automatic:
                values["model_version"] = str(max(newest, above) + 1)
            now = utcnow()
            row = {
                **values,
                "status": JobStatus.PENDING.value,
                "stage": JobStage.QUEUED.value,
                "progress": 0.0,
                "attempt": 0,
                "cancel_requested": False,
                "created_at": now,
                "updated_at": now,
            }
            insert_job(session, column_keys(row))  # before the event: its foreign key
            job = TrainingJob(**row)
            add_event(session, job, "submitted", now)
            deltas = tally.Deltas()
            deltas.add(job, 1)
            deltas.apply(session)
        return job

    def request_cancel(self, job_id: uuid.UUID, tenant: str) -> tuple[TrainingJob, bool] | None:
        """Cancel a pending job at once, flag a running one for its supervisor: the job now and
        whether this call cancelled it (None: the tenant has no such job)."""
        with transaction(self.factory) as session:
            job = session.get(TrainingJob, job_id)
            if job is None or job.tenant != tenant:
                return None
            pending = (TrainingJob.id == job_id) & (TrainingJob.status == JobStatus.PENDING.value)
            text = "cancelled before it started"
            values = {
                "status": JobStatus.CANCELLED.value,
                "cancel_requested": True,
                "message": text,
                "completed_at": utcnow(),
            }
            done = change(session, pending, values, message=text)
            if done is None:
                running = (TrainingJob.id == job_id) & (
                    TrainingJob.status == JobStatus.RUNNING.value
                )
                change(
                    session,
                    running,
                    {"cancel_requested": True, "message": "cancellation requested"},
                    message=None,
                    event=False,
                )
            session.expire_all()
            return session.get_one(TrainingJob, job_id), done is not None

    def delete_job(self, job_id: uuid.UUID, tenant: str) -> Removed | None:
        """Delete a finished job of ``tenant`` and its rows; None when there is no such job.
        Raises ``JobNotFinished`` while it is pending or running."""
        with transaction(self.factory) as session:
            return remove_job(session, job_id, tenant)

    def delete_expired(self, *, before: datetime, limit: int) -> list[Removed]:
        """Delete up to ``limit`` finished jobs that ended before ``before``, one short
        transaction: the retention loop calls it until it returns nothing."""
        with transaction(self.factory) as session:
            return remove_jobs(session, expired(session, before, limit))

    # -- on behalf of an executor: claiming -------------------------------------------------

    def claim(
        self, *, owner: str, lease_seconds: float, job_id: uuid.UUID | None = None
    ) -> Claim | None:
        """Take ``job_id`` (or the oldest pending job) from pending to running."""
        with transaction(self.factory) as session:
            return claims.claim(session, owner=owner, lease_seconds=lease_seconds, job_id=job_id)

    def stale_pending(self, *, older_than_seconds: float, limit: int = 1000) -> list[uuid.UUID]:
        """Pending jobs untouched for ``older_than_seconds``, oldest first: their broker
        message may be lost, so the Celery executor publishes them again."""
        before = utcnow() - timedelta(seconds=older_than_seconds)
        with self.reader() as session:
            rows = session.scalars(
                select(TrainingJob.id)
                .where(
                    TrainingJob.status == JobStatus.PENDING.value,
                    TrainingJob.updated_at < before,
                )
                .order_by(TrainingJob.updated_at, TrainingJob.id)
                .limit(limit)
            ).all()
        return list(rows)

    # -- on behalf of a running attempt (fenced) --------------------------------------------

    def renew(
        self, job_id: uuid.UUID, attempt: int, *, lease_seconds: float, owner: str | None = None
    ) -> RunState | None:
        """Extend the lease (and name the owner anew); None when the attempt lost the job."""
        values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=lease_seconds)}
        if owner is not None:
            values["lease_owner"] = owner
        with transaction(self.factory) as session:
            row = session.execute(
                update(TrainingJob)
                .where(fence(job_id, attempt))
                .values(**values)
                .returning(TrainingJob.cancel_requested)
            ).first()
        return None if row is None else RunState(bool(row.cancel_requested))

    def poll(self, job_id: uuid.UUID, attempt: int) -> RunState | None:
        with self.reader() as session:
            row = session.execute(
                select(TrainingJob.cancel_requested).where(fence(job_id, attempt))
            ).first()
        return None if row is None else RunState(bool(row.cancel_requested))

    def advance(
        self,
        job_id: uuid.UUID,
        attempt: int,
        *,
        stage: JobStage,
        progress: float,
        message: str | None = None,
        new_stage: bool = False,
        fields: dict[str, Any] | None = None,
        entered: Sequence[StageEntry] = (),
    ) -> bool:
        """Record progress (which never goes backwards); an event when a stage starts, and
        one for each stage in ``entered`` (stages entered since the attempt last wrote)."""
        values: dict[str, Any] = {
            "stage": stage.value,
            "progress": AtLeast(progress),
            **(fields or {}),
        }
        if message is not None:
            values["message"] = message
        with transaction(self.factory) as session:
            row = change(
                session,
                Fence(job_id, attempt),
                values,
                message=message,
                event=new_stage,
                entered=entered,
            )
        return row is not None

    def add_trial(self, job_id: uuid.UUID, attempt: int, trial: dict[str, Any]) -> bool:
        """Record a finished search trial, fenced like every other write of the attempt."""
        with transaction(self.factory) as session:
            held = change(session, Fence(job_id, attempt), {}, message=None, event=False)
            if held is None:
                return False
            session.add(
                Trial(
                    job_id=job_id,
                    attempt=attempt,
                    **{name: trial[name] for name in TRIAL_FIELDS},
                    started_at=datetime.fromisoformat(trial["started_at"]),
                    finished_at=datetime.fromisoformat(trial["finished_at"]),
                )
            )
        return True

    def finish(
        self,
        job_id: uuid.UUID,
        attempt: int,
        *,
        status: JobStatus,
        stage: JobStage | None = None,
        message: str | None,
        error: tuple[str, str | None, str] | None = None,
        fields: dict[str, Any] | None = None,
        entered: Sequence[StageEntry] = (),
    ) -> bool:
        """Move a running attempt to a terminal status, fenced; the stages it entered since
        its last write (``entered``) are recorded first, in the same transaction."""
        values: dict[str, Any] = {
            "status": status.value,
            "message": message,
            "completed_at": utcnow(),
            "eta_seconds": None,
            "lease_owner": None,
            "lease_expires_at": None,
            **(fields or {}),
        }
        if stage is not None:
            values["stage"] = stage.value
        if status is JobStatus.COMPLETED:
            values["progress"] = STAGE_PROGRESS[JobStage.DONE]
        if error is not None:
            values["error_type"], values["error_stage"], values["error_message"] = error
        with transaction(self.factory) as session:
            row = change(session, Fence(job_id, attempt), values, message=message, entered=entered)
        return row is not None

    def requeue(
        self, job_id: uuid.UUID, attempt: int, *, message: str, count_attempt: bool = True
    ) -> bool:
        """Put a running attempt's job back to pending; ``count_attempt=False`` (a graceful
        shutdown) grants the attempt back."""
        values: dict[str, Any] = {
            "status": JobStatus.PENDING.value,
            "stage": JobStage.QUEUED.value,
            "message": message,
            "lease_owner": None,
            "lease_expires_at": None,
            "deadline_at": None,
        }
        if not count_attempt:
            values["max_attempts"] = TrainingJob.max_attempts + 1
        with transaction(self.factory) as session:
            row = change(session, Fence(job_id, attempt), values, message=message)
        return row is not None

    def lost(
        self, job_id: uuid.UUID, attempt: int, max_attempts: int, *, reason: str
    ) -> AttemptOutcome:
        """An attempt ended without recording an outcome: retry it, or fail the job."""
        if attempt < max_attempts:
            self.requeue(
                job_id,
                attempt,
                message=f"{reason}; requeued (attempt {attempt} of {max_attempts} used)",
            )
            return AttemptOutcome.REQUEUED
        text = f"{reason}; gave up after {attempt} of {max_attempts} attempts"
        self.finish(
            job_id,
            attempt,
            status=JobStatus.FAILED,
            message=text,
            error=("WorkerLostError", self.stage_of(job_id), text),
        )
        return AttemptOutcome.FAILED

    def stage_of(self, job_id: uuid.UUID) -> str | None:
        with self.reader() as session:
            return session.scalar(select(TrainingJob.stage).where(TrainingJob.id == job_id))

    def reap(self) -> list[Reaped]:
        """Requeue or fail running jobs whose lease expired: nobody is working on them."""
        with self.reader() as session:
            rows = session.execute(
                select(
                    TrainingJob.id,
                    TrainingJob.attempt,
                    TrainingJob.max_attempts,
                    TrainingJob.registry_info,
                ).where(
                    TrainingJob.status == JobStatus.RUNNING.value,
                    TrainingJob.lease_expires_at < utcnow(),
                )
            ).all()
        self.trials.reap()
        reason = "the worker running this job stopped answering (its lease expired)"
        reaped = []
        for row in rows:
            outcome = self.lost(row.id, row.attempt, row.max_attempts, reason=reason)
            registry = row.registry_info or {}
            run_id = registry.get("run_id") if registry.get("attempt") == row.attempt else None
            reaped.append(Reaped(row.id, row.attempt, outcome, run_id))
        return reaped
