"""The status read: one row by id and tenant, only the columns a status shows, no ORM.

It is the hottest query of the API (clients poll it) and it runs on the event loop, so it
skips all a status does not need: the ORM's identity map and instance state, a session and
its transaction (the connection is in autocommit: one statement is its own snapshot), the
request body and the lease columns. The statement is compiled once per dialect; each column's
own SQLAlchemy type still converts the values (UUIDs, UTC datetimes, JSON).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from app.jobs.models import TrainingJob


@dataclass(frozen=True, slots=True)
class StatusRow:
    """What a job's status shows, named as on ``TrainingJob``."""

    id: uuid.UUID
    model_name: str
    model_version: str
    algorithm: str
    status: str
    stage: str
    message: str | None
    progress: float
    eta_seconds: float | None
    metrics: dict[str, float] | None
    best_hyperparameters: dict[str, Any] | None
    artifacts_location: str | None
    experiment_name: str | None
    tags: dict[str, Any] | None
    error_type: str | None
    error_stage: str | None
    error_message: str | None
    registry_info: dict[str, Any] | None
    data_lineage: dict[str, Any] | None
    estimate: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None
    attempt: int


STATUS_FIELDS = tuple(StatusRow.__dataclass_fields__)
STATUS_BY_ID = select(*(getattr(TrainingJob, name).label(name) for name in STATUS_FIELDS)).where(
    TrainingJob.id == bindparam("job_id"), TrainingJob.tenant == bindparam("tenant")
)

Processor = Callable[[Any], Any] | None


class _Disconnected(Exception):
    """The pooled connection was dead (the server restarted, a proxy dropped it)."""


class StatusReader:
    """``STATUS_BY_ID`` compiled for one engine's dialect, run on a raw pooled connection."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = STATUS_BY_ID.compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        id_type = TrainingJob.__table__.c.id.type
        self.bind_id: Processor = id_type.dialect_impl(dialect).bind_processor(dialect)
        self.processors: list[Processor] | None = None  # from the first result's types

    def _processors(self, description: Any) -> list[Processor]:
        """Each column's converter, chosen (as SQLAlchemy does) for the driver's type code."""
        dialect = self.engine.dialect
        return [
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(STATUS_BY_ID.selected_columns, description, strict=True)
        ]

    def _fetch(self, arguments: Any) -> Any:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, arguments)
                row = cursor.fetchone()
                if self.processors is None:
                    self.processors = self._processors(cursor.description)
                return row
            except self.engine.dialect.loaded_dbapi.Error as exc:
                if self.engine.dialect.is_disconnect(exc, connection.dbapi_connection, cursor):
                    connection.invalidate(exc)
                    raise _Disconnected() from exc
                raise
            finally:
                cursor.close()
        finally:
            connection.close()

    def read(self, job_id: uuid.UUID, tenant: str) -> StatusRow | None:
        """The status of ``tenant``'s job ``job_id``; None when there is no such job."""
        bound_id = self.bind_id(job_id) if self.bind_id else job_id
        params: dict[str, Any] = {"job_id": bound_id, "tenant": tenant}
        arguments: Any = [params[name] for name in self.order] if self.order else params
        try:
            row = self._fetch(arguments)
        except _Disconnected:
            row = self._fetch(arguments)  # the pool dropped the dead connection: once more
        processors = self.processors
        if row is None or processors is None:
            return None
        return StatusRow(
            *(
                process(value) if process is not None else value
                for process, value in zip(processors, row, strict=True)
            )
        )
