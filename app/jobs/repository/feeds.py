"""Feeds: rows past a cursor, for the streams (``app/streams``) and the webhook outbox, and the
jobs updated lately (progress moves without an event). Read-only, through the repository's
read sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs.models import JobEvent, TrainingJob, Trial


class FeedReads:
    reader: Callable[[], AbstractContextManager[Session]]

    def rows_after(
        self,
        table: type[JobEvent] | type[Trial],
        after_id: int,
        *,
        job_id: uuid.UUID | None = None,
        limit: int = 1000,
    ) -> Sequence[Any]:
        """``(row, tenant, model_name, experiment_name)`` past ``after_id``, in id order."""
        query = (
            select(table, TrainingJob.tenant, TrainingJob.model_name, TrainingJob.experiment_name)
            .join(TrainingJob, TrainingJob.id == table.job_id)
            .where(table.id > after_id)
            .order_by(table.id)
            .limit(limit)
        )
        if job_id is not None:
            query = query.where(table.job_id == job_id)
        with self.reader() as session:
            return session.execute(query).all()

    def last_ids(self) -> tuple[int, int]:
        top = [select(func.max(t.id)).scalar_subquery() for t in (JobEvent, Trial)]
        with self.reader() as session:
            events, trials = session.execute(select(*top)).one()
        return int(events or 0), int(trials or 0)

    def jobs_updated_since(self, since: datetime) -> Sequence[TrainingJob]:
        with self.reader() as session:
            return session.scalars(select(TrainingJob).where(TrainingJob.updated_at >= since)).all()
