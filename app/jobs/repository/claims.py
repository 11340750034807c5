"""A claim: the oldest pending job (or a given one) moved to running, with a new attempt.

SQLite holds the whole database for a write transaction, so its claim reads the row, then
changes it. PostgreSQL's claim is one statement, built once: a ``FOR UPDATE SKIP LOCKED``
select of the row as a CTE (concurrent claimers skip each other's rows), the update from it,
and a RETURNING of the row after and of the tally's facts before (the CTE's columns), with
the NOTIFY; the tally and the event follow in the same transaction. It replaced a select, an
update and a NOTIFY, each a round trip built per call (``bench/job_writes.py`` measures the
CPU of a claim; ``docs/performance.md``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Interval, bindparam, literal_column, select, update
from sqlalchemy.orm import Session

from app.jobs.lifecycle import Claim, JobStage, JobStatus
from app.jobs.models import TrainingJob, utcnow
from app.jobs.repository import tally
from app.jobs.repository.changes import _RETURNED, NOTIFIED, add_event, change, dialect_name
from app.jobs.repository.statements import JOBS

# The claim's select: the tally's facts, with what the claim hands on.
_CLAIMED = (*tally.FACT_TABLE_COLUMNS, JOBS.c.max_runtime_seconds, JOBS.c.request)


def claim(
    session: Session, *, owner: str, lease_seconds: float, job_id: uuid.UUID | None
) -> Claim | None:
    """Take ``job_id`` (or the oldest pending job) from pending to running."""
    if dialect_name(session) == "postgresql":
        return _claim_in_one(session, owner, lease_seconds, job_id)
    return _claim_read_first(session, owner, lease_seconds, job_id)


def _started(owner: str) -> Any:
    return lambda job: f"attempt {job.attempt} of {job.max_attempts} started on {owner}"


def _hand_on(row: Any, attempt: int, max_attempts: int, deadline: datetime) -> Claim:
    return Claim(
        row.id,
        attempt,
        max_attempts,
        deadline,
        row.max_runtime_seconds,
        search=bool((row.request or {}).get("hyperparameter_tuning_config")),
    )


def _claim_read_first(
    session: Session, owner: str, lease_seconds: float, job_id: uuid.UUID | None
) -> Claim | None:
    # The tally's facts come with the row this select locks: the change need not read them.
    query = select(*_CLAIMED).where(JOBS.c.status == JobStatus.PENDING.value)
    if job_id is not None:
        query = query.where(JOBS.c.id == job_id)
    else:
        query = query.order_by(JOBS.c.created_at, JOBS.c.id).limit(1)
    row = session.execute(query.with_for_update(skip_locked=True)).first()
    if row is None:
        return None
    now = utcnow()
    deadline = now + timedelta(seconds=row.max_runtime_seconds)
    where = (TrainingJob.id == row.id) & (TrainingJob.status == JobStatus.PENDING.value)
    values = {
        "status": JobStatus.RUNNING.value,
        "stage": JobStage.FETCHING_DATA.value,
        "attempt": TrainingJob.attempt + 1,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "deadline_at": deadline,
        "started_at": now,
        "updated_at": now,
        "completed_at": None,  # a running job has none (``change(running=True)``)
        "message": None,
    }
    claimed = change(session, where, values, message=_started(owner), before=row)
    if claimed is None:
        return None
    return _hand_on(row, claimed.attempt, claimed.max_attempts, deadline)


@dataclass(frozen=True)
class _Before:
    """The tally's facts of the claimed row before the claim (the CTE's columns)."""

    tenant: str
    status: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


@cache
def _claim_statement(by_id: bool) -> Any:
    pending = JOBS.c.status == JobStatus.PENDING.value
    picked = select(*_CLAIMED).where(pending)
    if by_id:
        picked = picked.where(JOBS.c.id == bindparam("job_id", type_=JOBS.c.id.type))
    else:
        picked = picked.order_by(JOBS.c.created_at, JOBS.c.id).limit(1)
    row = picked.with_for_update(skip_locked=True).cte("picked")
    now = bindparam("now", type_=JOBS.c.started_at.type)
    runtime = row.c.max_runtime_seconds * literal_column("interval '1 second'", Interval)
    return (
        update(JOBS)
        .where(JOBS.c.id == row.c.id, pending)
        .values(
            status=JobStatus.RUNNING.value,
            stage=JobStage.FETCHING_DATA.value,
            attempt=JOBS.c.attempt + 1,
            lease_owner=bindparam("owner", type_=JOBS.c.lease_owner.type),
            lease_expires_at=bindparam("lease_expires_at", type_=JOBS.c.lease_expires_at.type),
            deadline_at=now + runtime,
            started_at=now,
            updated_at=now,
            completed_at=None,
            message=None,
        )
        .returning(
            *_RETURNED,
            JOBS.c.deadline_at,
            JOBS.c.max_runtime_seconds,
            JOBS.c.request,
            row.c.status.label("status_before"),
            row.c.started_at.label("started_before"),
            row.c.completed_at.label("completed_before"),
            NOTIFIED,
        )
    )


def _claim_in_one(
    session: Session, owner: str, lease_seconds: float, job_id: uuid.UUID | None
) -> Claim | None:
    now = utcnow()
    params: dict[str, Any] = {
        "now": now,
        "owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }
    if job_id is not None:
        params["job_id"] = job_id
    row = session.execute(_claim_statement(job_id is not None), params).first()
    if row is None:
        return None
    before = _Before(
        row.tenant, row.status_before, row.created_at, row.started_before, row.completed_before
    )
    deltas = tally.Deltas()
    deltas.move(before, row)
    deltas.apply(session)
    add_event(session, row, _started(owner)(row), now)
    return _hand_on(row, row.attempt, row.max_attempts, row.deadline_at)
