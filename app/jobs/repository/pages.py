"""Pages of the job list: newest first by ``(created_at, id)``, from the start, past an offset,
or past a cursor (keyset: ``WHERE (created_at, id) < (:c, :i)``), which reads only the rows of
the page through the index of the filter, at any depth."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.orm import Session

from app.jobs.filters import JobFilter
from app.jobs.models import TrainingJob


@dataclass(frozen=True)
class Position:
    """The sort key of the last job of a page: the next page starts after it."""

    created_at: datetime
    job_id: uuid.UUID


@dataclass(frozen=True)
class Page:
    jobs: Sequence[TrainingJob]
    # The last job's position when more jobs follow, else None.
    next: Position | None
    total: int | None


def read_page(
    session: Session,
    where: JobFilter,
    *,
    limit: int,
    offset: int = 0,
    after: Position | None = None,
    count: bool = False,
) -> Page:
    conditions = where.conditions()
    if after is not None:
        conditions.append(
            tuple_(TrainingJob.created_at, TrainingJob.id)
            < tuple_(
                literal(after.created_at, TrainingJob.created_at.type),
                literal(after.job_id, TrainingJob.id.type),
            )
        )
    rows = session.scalars(
        select(TrainingJob)
        .where(*conditions)
        .order_by(TrainingJob.created_at.desc(), TrainingJob.id.desc())
        .limit(limit + 1)  # one more tells whether a next page exists
        .offset(offset)
    ).all()
    jobs = rows[:limit]
    more = len(rows) > limit
    position = Position(jobs[-1].created_at, jobs[-1].id) if more else None
    total = None
    if count:
        total = int(
            session.scalar(select(func.count()).select_from(TrainingJob).where(*where.conditions()))
            or 0
        )
    return Page(jobs, position, total)
