"""Every write the execution side makes to a job row.

A claim bumps ``attempt``; that number is the fencing token. Every later write of the attempt
is conditional on ``(id, attempt, status='running')``, so a write from an attempt that lost its
claim (killed, reaped, cancelled) changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import make_read_session_factory, make_session_factory, transaction
from app.lifecycle import STAGE_PROGRESS, JobStage, JobStatus
from app.models import JobEvent, TrainingJob, Trial, utcnow


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    attempt: int
    max_attempts: int
    deadline_at: datetime
    max_runtime_seconds: int


@dataclass(frozen=True)
class RunState:
    """What the supervisor reads on each poll."""

    cancel_requested: bool


def _event(
    session: Session,
    job_id: uuid.UUID,
    *,
    status: str,
    stage: str,
    progress: float,
    attempt: int,
    message: str | None,
    at: datetime,
) -> None:
    session.add(
        JobEvent(
            job_id=job_id,
            status=status,
            stage=stage,
            progress=progress,
            attempt=attempt,
            message=message,
            created_at=at,
        )
    )


def _fence(job_id: uuid.UUID, attempt: int) -> Any:
    return (
        (TrainingJob.id == job_id)
        & (TrainingJob.attempt == attempt)
        & (TrainingJob.status == JobStatus.RUNNING.value)
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.factory = make_session_factory(engine)
        self.reader = make_read_session_factory(engine)

    # -- claiming ---------------------------------------------------------------------------

    def claim(
        self, *, owner: str, lease_seconds: float, job_id: uuid.UUID | None = None
    ) -> Claim | None:
        """Take ``job_id`` (or the oldest pending job) from pending to running."""
        with transaction(self.factory) as session:
            query = select(TrainingJob.id, TrainingJob.max_runtime_seconds).where(
                TrainingJob.status == JobStatus.PENDING.value
            )
            if job_id is not None:
                query = query.where(TrainingJob.id == job_id)
            else:
                query = query.order_by(TrainingJob.created_at, TrainingJob.id).limit(1)
            row = session.execute(query.with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            now = utcnow()
            deadline = now + timedelta(seconds=row.max_runtime_seconds)
            claimed = session.execute(
                update(TrainingJob)
                .where(TrainingJob.id == row.id, TrainingJob.status == JobStatus.PENDING.value)
                .values(
                    status=JobStatus.RUNNING.value,
                    stage=JobStage.FETCHING_DATA.value,
                    attempt=TrainingJob.attempt + 1,
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    deadline_at=deadline,
                    started_at=now,
                    updated_at=now,
                    message=None,
                )
                .returning(TrainingJob.attempt, TrainingJob.max_attempts, TrainingJob.progress)
            ).first()
            if claimed is None:
                return None
            _event(
                session,
                row.id,
                status=JobStatus.RUNNING.value,
                stage=JobStage.FETCHING_DATA.value,
                progress=claimed.progress,
                attempt=claimed.attempt,
                message=f"attempt {claimed.attempt} of {claimed.max_attempts} started on {owner}",
                at=now,
            )
            return Claim(
                row.id, claimed.attempt, claimed.max_attempts, deadline, row.max_runtime_seconds
            )

    # -- while running ----------------------------------------------------------------------

    def renew(
        self, job_id: uuid.UUID, attempt: int, *, lease_seconds: float, owner: str | None = None
    ) -> RunState | None:
        """Extend the lease (and name the owner anew); None when the attempt lost the job."""
        now = utcnow()
        values: dict[str, Any] = {"lease_expires_at": now + timedelta(seconds=lease_seconds)}
        if owner is not None:
            values["lease_owner"] = owner
        with transaction(self.factory) as session:
            row = session.execute(
                update(TrainingJob)
                .where(_fence(job_id, attempt))
                .values(**values)
                .returning(TrainingJob.cancel_requested)
            ).first()
        return None if row is None else RunState(bool(row.cancel_requested))

    def poll(self, job_id: uuid.UUID, attempt: int) -> RunState | None:
        with self.reader() as session:
            row = session.execute(
                select(TrainingJob.cancel_requested).where(_fence(job_id, attempt))
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
    ) -> bool:
        """Record progress (which never goes backwards); an event when a stage starts."""
        now = utcnow()
        values: dict[str, Any] = {
            "stage": stage.value,
            "progress": case(
                (TrainingJob.progress < progress, progress), else_=TrainingJob.progress
            ),
            "updated_at": now,
            **(fields or {}),
        }
        if message is not None:
            values["message"] = message
        with transaction(self.factory) as session:
            row = session.execute(
                update(TrainingJob)
                .where(_fence(job_id, attempt))
                .values(**values)
                .returning(TrainingJob.progress)
            ).first()
            if row is None:
                return False
            if new_stage:
                _event(
                    session,
                    job_id,
                    status=JobStatus.RUNNING.value,
                    stage=stage.value,
                    progress=row.progress,
                    attempt=attempt,
                    message=message,
                    at=now,
                )
        return True

    def add_trial(self, job_id: uuid.UUID, attempt: int, trial: dict[str, Any]) -> bool:
        """Record a finished search trial, fenced like every other write of the attempt."""
        with transaction(self.factory) as session:
            held = session.execute(
                update(TrainingJob)
                .where(_fence(job_id, attempt))
                .values(updated_at=utcnow())
                .returning(TrainingJob.id)
            ).first()
            if held is None:
                return False
            session.add(
                Trial(
                    job_id=job_id,
                    attempt=attempt,
                    number=trial["number"],
                    params=trial["params"],
                    mean_score=trial["mean_score"],
                    std_score=trial["std_score"],
                    fold_scores=trial["fold_scores"],
                    state=trial["state"],
                    error=trial["error"],
                    resource=trial["resource"],
                    duration_seconds=trial["duration_seconds"],
                    started_at=datetime.fromisoformat(trial["started_at"]),
                    finished_at=datetime.fromisoformat(trial["finished_at"]),
                )
            )
        return True

    # -- endings ----------------------------------------------------------------------------

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
    ) -> bool:
        """Move a running attempt to a terminal status, fenced."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": status.value,
            "message": message,
            "updated_at": now,
            "completed_at": now,
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
            row = session.execute(
                update(TrainingJob)
                .where(_fence(job_id, attempt))
                .values(**values)
                .returning(TrainingJob.stage, TrainingJob.progress)
            ).first()
            if row is None:
                return False
            _event(
                session,
                job_id,
                status=status.value,
                stage=row.stage,
                progress=row.progress,
                attempt=attempt,
                message=message,
                at=now,
            )
        return True

    def requeue(
        self, job_id: uuid.UUID, attempt: int, *, message: str, count_attempt: bool = True
    ) -> bool:
        """Put a running attempt's job back to pending for another attempt.

        ``count_attempt=False`` (a graceful shutdown) grants the attempt back.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "status": JobStatus.PENDING.value,
            "stage": JobStage.QUEUED.value,
            "message": message,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
            "deadline_at": None,
        }
        if not count_attempt:
            values["max_attempts"] = TrainingJob.max_attempts + 1
        with transaction(self.factory) as session:
            row = session.execute(
                update(TrainingJob)
                .where(_fence(job_id, attempt))
                .values(**values)
                .returning(TrainingJob.progress)
            ).first()
            if row is None:
                return False
            _event(
                session,
                job_id,
                status=JobStatus.PENDING.value,
                stage=JobStage.QUEUED.value,
                progress=row.progress,
                attempt=attempt,
                message=message,
                at=now,
            )
        return True

    def lost(self, job_id: uuid.UUID, attempt: int, max_attempts: int, *, reason: str) -> str:
        """An attempt ended without recording an outcome: retry it, or fail the job."""
        if attempt < max_attempts:
            self.requeue(
                job_id,
                attempt,
                message=f"{reason}; requeued (attempt {attempt} of {max_attempts} used)",
            )
            return "requeued"
        with self.reader() as session:
            stage = session.scalar(select(TrainingJob.stage).where(TrainingJob.id == job_id))
        text = f"{reason}; gave up after {attempt} of {max_attempts} attempts"
        self.finish(
            job_id,
            attempt,
            status=JobStatus.FAILED,
            message=text,
            error=("WorkerLostError", stage, text),
        )
        return "failed"

    def reap(self) -> list[tuple[uuid.UUID, str]]:
        """Requeue or fail running jobs whose lease expired: nobody is working on them."""
        now = utcnow()
        with self.reader() as session:
            rows = session.execute(
                select(TrainingJob.id, TrainingJob.attempt, TrainingJob.max_attempts).where(
                    TrainingJob.status == JobStatus.RUNNING.value,
                    TrainingJob.lease_expires_at < now,
                )
            ).all()
        outcomes = []
        for row in rows:
            outcome = self.lost(
                row.id,
                row.attempt,
                row.max_attempts,
                reason="the worker running this job stopped answering (its lease expired)",
            )
            outcomes.append((row.id, outcome))
        return outcomes

    def stale_pending(self, *, older_than_seconds: float, limit: int = 1000) -> list[uuid.UUID]:
        """Pending jobs untouched for ``older_than_seconds``, oldest first: their broker
        message may be lost, so the Celery executor publishes them again."""
        before = utcnow() - timedelta(seconds=older_than_seconds)
        with self.factory() as session:
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
