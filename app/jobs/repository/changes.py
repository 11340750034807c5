"""The primitives every write of the repository is made of: the fence of a running attempt,
the change of a job row with the event of its transition, and the NOTIFY that wakes the
stream hubs. Only ``app.jobs.repository`` uses them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.jobs.lifecycle import JobStatus, StageEntry
from app.jobs.models import JobEvent, TrainingJob, utcnow
from app.jobs.repository import tally

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


# PostgreSQL: a NOTIFY in the changing transaction (sent at commit) wakes every stream hub.
FEED_CHANNEL = "trainyard_feed"


def notify(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {FEED_CHANNEL}"))


def change(
    session: Session,
    where: Any,
    values: dict[str, Any],
    *,
    message: str | None | Callable[[Any], str],
    event: bool = True,
    entered: Sequence[StageEntry] = (),
    before: Any = None,
) -> Any:
    """Update the row ``where`` selects and, when ``event``, record its transition (``message``
    may be made from the updated row), in the caller's transaction. The new state, or None.

    ``entered``: stages a running attempt entered since its last write, each recorded as the
    event it would have been, with its own time, before the event of this change; only when
    the row was updated (an attempt that lost its claim records nothing).

    A change of status or of a timestamp moves the job's tally in the same transaction: the
    row is read and locked first (``FOR UPDATE``; SQLite's write transactions hold the whole
    database), so the state before is exact however many processes write. ``before``: those
    facts, read and locked by the caller in this transaction already (the claim's select)."""
    now = values.setdefault("updated_at", utcnow())
    if before is not None:
        where = where & (TrainingJob.id == before.id)
    elif not tally.TALLIED.isdisjoint(values):
        before = session.execute(select(*tally.FACT_COLUMNS).where(where).with_for_update()).first()
        if before is None:
            return None
        where = where & (TrainingJob.id == before.id)
    row = session.execute(
        update(TrainingJob)
        .where(where)
        .values(**values)
        .returning(
            TrainingJob.id,
            TrainingJob.status,
            TrainingJob.stage,
            TrainingJob.progress,
            TrainingJob.attempt,
            TrainingJob.max_attempts,
            TrainingJob.cancel_requested,
            TrainingJob.tenant,
            TrainingJob.created_at,
            TrainingJob.started_at,
            TrainingJob.completed_at,
        )
    ).first()
    if row is not None:
        notify(session)
    if row is not None and before is not None:
        deltas = tally.Deltas()
        deltas.move(before, row)
        deltas.apply(session)
    if row is not None:
        for entry in entered:
            session.add(
                JobEvent(
                    job_id=row.id,
                    status=JobStatus.RUNNING.value,
                    stage=entry.stage.value,
                    progress=entry.progress,
                    attempt=row.attempt,
                    message=entry.message,
                    created_at=entry.at,
                )
            )
    if row is not None and event:
        add_event(session, row, message(row) if callable(message) else message, now)
    return row


def add_event(session: Session, job: Any, message: str | None, now: datetime) -> None:
    session.add(
        JobEvent(
            job_id=job.id,
            status=job.status,
            stage=job.stage,
            progress=job.progress,
            attempt=job.attempt,
            message=message,
            created_at=now,
        )
    )
