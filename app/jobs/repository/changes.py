"""The primitives every write of the repository is made of: the fence of a running attempt,
the change of a job row with the event of its transition, and the NOTIFY that wakes the
stream hubs. Only ``app.jobs.repository`` uses them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ClauseElement, bindparam, case, func, select, text, update
from sqlalchemy.orm import Session

from app.jobs.lifecycle import JobStatus, StageEntry
from app.jobs.models import TrainingJob, utcnow
from app.jobs.repository import tally
from app.jobs.repository.statements import COLUMN, INSERT_EVENTS, INSERT_JOB, JOBS

# How many next numbers a submit tries when concurrent submits of the same model take them.
VERSION_TRIES = 200


class ModelVersionTaken(Exception):
    """The tenant's model already has this version."""


class IdempotencyKeyTaken(Exception):
    """Another job of the tenant already holds this idempotency key."""


def fence(job_id: uuid.UUID, attempt: int) -> Any:
    return (
        (TrainingJob.id == job_id)
        & (TrainingJob.attempt == attempt)
        & (TrainingJob.status == JobStatus.RUNNING.value)
    )


@dataclass(frozen=True)
class Fence:
    """A running attempt's row, as ``change``'s ``where``: the update is built once per set of
    value names (with bind parameters), not per call, and the facts before are inferred
    (``change(running=True)``)."""

    job_id: uuid.UUID
    attempt: int


# What a change reads back of the row it updated.
_RETURNED = tuple(
    JOBS.c[name]
    for name in (
        "id",
        "status",
        "stage",
        "progress",
        "attempt",
        "max_attempts",
        "cancel_requested",
        "tenant",
        "created_at",
        "started_at",
        "completed_at",
    )
)


# PostgreSQL: a NOTIFY in the changing transaction (sent at commit) wakes every stream hub.
FEED_CHANNEL = "trainyard_feed"
# The same as a value of the changed row's RETURNING, which spares the NOTIFY its own round
# trip (PostgreSQL sends one notification per channel and payload at commit, however many).
NOTIFIED = func.pg_notify(FEED_CHANNEL, "").label("notified")
_INSERT_JOB_NOTIFIED = INSERT_JOB.returning(NOTIFIED)


def dialect_name(session: Any) -> str:
    return str(session.get_bind().dialect.name)


def notify(session: Session) -> None:
    if dialect_name(session) == "postgresql":
        session.execute(text(f"NOTIFY {FEED_CHANNEL}"))


def insert_job(session: Session, row: dict[str, Any]) -> None:
    """Insert a job row (by column name), with the NOTIFY on PostgreSQL."""
    if dialect_name(session) == "postgresql":
        session.execute(_INSERT_JOB_NOTIFIED, row).close()
    else:
        session.execute(INSERT_JOB, [row])


def returned(dialect: str) -> tuple[Any, ...]:
    """What a change reads back, with the NOTIFY on PostgreSQL."""
    return (*_RETURNED, NOTIFIED) if dialect == "postgresql" else _RETURNED


@dataclass(frozen=True)
class AtLeast:
    """A value that never lowers the column (a job's progress): ``max(column, value)``."""

    value: Any


def _never_lower(column: Any, value: Any) -> Any:
    return case((column < value, value), else_=column)


def _bound(name: str, at_least: bool) -> Any:
    column = COLUMN[name]
    value = bindparam(f"v_{name}", type_=column.type)
    return _never_lower(column, value) if at_least else value


@lru_cache(maxsize=64)
def _fenced_update(dialect: str, names: tuple[str, ...], at_least: frozenset[str]) -> Any:
    """The fenced update of the values ``names`` (bound as ``v_<name>``): building a statement
    costs more CPU than running it, and an attempt's writes repeat a few sets of names."""
    return (
        update(JOBS)
        .where(
            JOBS.c.id == bindparam("fence_id", type_=JOBS.c.id.type),
            JOBS.c.attempt == bindparam("fence_attempt", type_=JOBS.c.attempt.type),
            JOBS.c.status == JobStatus.RUNNING.value,
        )
        .values({COLUMN[name]: _bound(name, name in at_least) for name in names})
        .returning(*returned(dialect))
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, AtLeast) else value


def _expression(name: str, value: Any) -> Any:
    return _never_lower(COLUMN[name], value.value) if isinstance(value, AtLeast) else value


def _update(session: Session, where: Any, values: dict[str, Any]) -> Any:
    dialect = dialect_name(session)
    if isinstance(where, Fence) and not any(isinstance(v, ClauseElement) for v in values.values()):
        names = tuple(sorted(values))
        at_least = frozenset(name for name in names if isinstance(values[name], AtLeast))
        params = {f"v_{name}": _plain(values[name]) for name in names}
        params.update(fence_id=where.job_id, fence_attempt=where.attempt)
        return session.execute(_fenced_update(dialect, names, at_least), params).first()
    if isinstance(where, Fence):
        where = fence(where.job_id, where.attempt)
    return session.execute(
        update(JOBS)
        .where(where)
        .values({COLUMN[name]: _expression(name, value) for name, value in values.items()})
        .returning(*returned(dialect))
    ).first()


def change(
    session: Session,
    where: Any,
    values: dict[str, Any],
    *,
    message: str | None | Callable[[Any], str],
    event: bool = True,
    entered: Sequence[StageEntry] = (),
    before: Any = None,
    running: bool = False,
) -> Any:
    """Update the row ``where`` selects and, when ``event``, record its transition (``message``
    may be made from the updated row), in the caller's transaction. The new state, or None.

    ``entered``: stages a running attempt entered since its last write, each recorded as the
    event it would have been, with its own time, before the event of this change; only when
    the row was updated (an attempt that lost its claim records nothing).

    A change of status or of a timestamp moves the job's tally in the same transaction: the
    row is read and locked first (``FOR UPDATE``; SQLite's write transactions hold the whole
    database), so the state before is exact however many processes write. ``before``: those
    facts, read and locked by the caller in this transaction already (the claim's select).
    ``running``: ``where`` is a running attempt's ``fence``. A row it updates was running when
    updated (the update's condition is checked on the row it locks), and a running job has no
    ``completed_at`` (a claim clears it): the facts before are then the updated row's own
    ``created_at`` and ``started_at`` when ``values`` sets neither, and nothing is read first.
    A ``Fence`` as ``where`` is a running attempt's fence (``running`` implied).

    On PostgreSQL the NOTIFY that wakes the stream hubs rides on the update's RETURNING."""
    now = values.setdefault("updated_at", utcnow())
    running = running or isinstance(where, Fence)
    inferred = running and "created_at" not in values and "started_at" not in values
    if isinstance(where, Fence) and (before is not None or not inferred):
        where = fence(where.job_id, where.attempt)
    if before is not None:
        where = where & (TrainingJob.id == before.id)
    elif not inferred and not tally.TALLIED.isdisjoint(values):
        before = session.execute(
            select(*tally.FACT_TABLE_COLUMNS).where(where).with_for_update()
        ).first()
        if before is None:
            return None
        where = where & (TrainingJob.id == before.id)
    row = _update(session, where, values)
    if row is None:
        return None
    if before is None and inferred and not tally.TALLIED.isdisjoint(values):
        before = _Running(row.tenant, row.created_at, row.started_at)
    if before is not None:
        deltas = tally.Deltas()
        deltas.move(before, row)
        deltas.apply(session)
    events = [
        _event(
            row, JobStatus.RUNNING.value, entry.stage.value, entry.progress, entry.message, entry.at
        )
        for entry in entered
    ]
    if event:
        text_ = message(row) if callable(message) else message
        events.append(_event(row, row.status, row.stage, row.progress, text_, now))
    if events:
        session.execute(INSERT_EVENTS, events)
    return row


@dataclass(frozen=True)
class _Running:
    """The tally's facts of a running job before a fenced change (``change(running=True)``)."""

    tenant: str
    created_at: datetime
    started_at: datetime | None
    status: str = JobStatus.RUNNING.value
    completed_at: None = None


def _event(
    job: Any, status: str, stage: str, progress: float, message: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "status": status,
        "stage": stage,
        "progress": progress,
        "attempt": job.attempt,
        "message": message,
        "created_at": at,
    }


def add_event(session: Session, job: Any, message: str | None, now: datetime) -> None:
    session.execute(INSERT_EVENTS, [_event(job, job.status, job.stage, job.progress, message, now)])
