"""Deleting finished jobs: the job's rows (trials, events, the job) in one transaction with its
tally, so a reader sees the whole job or none of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.jobs.lifecycle import JobStatus
from app.jobs.models import JobEvent, SearchTrial, TrainingJob, Trial
from app.jobs.repository import tally

FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


class JobNotFinished(Exception):
    """The job is pending or running; it cannot be deleted yet."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Removed:
    """What a deleted job leaves to clean outside the database."""

    job_id: uuid.UUID
    run_id: str | None


def remove_jobs(session: Session, ids: list[uuid.UUID]) -> list[Removed]:
    """Delete these jobs (locked, finished ones only) and everything keyed by them."""
    if not ids:
        return []
    rows = session.execute(
        select(*tally.FACT_COLUMNS, TrainingJob.registry_info)
        .where(TrainingJob.id.in_(ids), TrainingJob.status.in_(FINISHED))
        .order_by(TrainingJob.id)
        .with_for_update()
    ).all()
    if not rows:
        return []
    found = [row.id for row in rows]
    # Children first, the job row last, all in this transaction: at commit the job is gone
    # at once, and no reader can see a job whose events or trials went missing.
    session.execute(delete(Trial).where(Trial.job_id.in_(found)))
    session.execute(delete(SearchTrial).where(SearchTrial.job_id.in_(found)))
    session.execute(delete(JobEvent).where(JobEvent.job_id.in_(found)))
    session.execute(delete(TrainingJob).where(TrainingJob.id.in_(found)))
    deltas = tally.Deltas()
    for row in rows:
        deltas.add(row, -1)
    deltas.apply(session)
    return [Removed(row.id, (row.registry_info or {}).get("run_id")) for row in rows]


def remove_job(session: Session, job_id: uuid.UUID, tenant: str) -> Removed | None:
    """Delete one finished job of ``tenant``; None when it has no such job; raises
    ``JobNotFinished`` while it is pending or running."""
    status = session.scalar(
        select(TrainingJob.status)
        .where(TrainingJob.id == job_id, TrainingJob.tenant == tenant)
        .with_for_update()
    )
    if status is None:
        return None
    if status not in FINISHED:
        raise JobNotFinished(status)
    removed = remove_jobs(session, [job_id])
    return removed[0] if removed else None


def expired(session: Session, before: datetime, limit: int) -> list[uuid.UUID]:
    """Finished jobs that ended before ``before``, oldest first, at most ``limit``."""
    return list(
        session.scalars(
            select(TrainingJob.id)
            .where(TrainingJob.completed_at < before, TrainingJob.status.in_(FINISHED))
            .order_by(TrainingJob.completed_at)
            .limit(limit)
        ).all()
    )
