"""The status read: one row by id and tenant, only the columns a status shows, no ORM.

It is the hottest query of the API (clients poll it) and it runs on the event loop, so it
skips all a status does not need: the ORM's identity map and instance state, a session and
its transaction (the connection is in autocommit: one statement is its own snapshot), the
request body and the lease columns. The statement is compiled once per dialect; each column's
own SQLAlchemy type still converts the values (UUIDs, UTC datetimes, JSON).

On SQLite the read is a lookup in a local file in WAL mode (it never waits for a writer), so
``StatusReader`` runs it inline on the loop. On PostgreSQL it is a network round trip, during
which an inline read would stop the loop: ``AsyncStatusReader`` runs the same statement on a
small pool of psycopg's async connections (``psycopg_pool``), prepared on each connection, so
the loop serves other requests while the server answers. Same timeouts, the same single retry
on a dropped connection, the same tenant scoping and the same row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Dialect, Engine

from app.core.db import LOOP_READ_TIMEOUT_SECONDS, json_loads
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
logger = logging.getLogger(__name__)


def _processors(dialect: Dialect, description: Any) -> list[Processor]:
    """Each column's converter, chosen (as SQLAlchemy does) for the driver's type code."""
    return [
        column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        for column, described in zip(STATUS_BY_ID.selected_columns, description, strict=True)
    ]


def _status_row(processors: list[Processor], row: Any) -> StatusRow:
    return StatusRow(
        *(
            process(value) if process is not None else value
            for process, value in zip(processors, row, strict=True)
        )
    )


class _Compiled:
    """``STATUS_BY_ID`` compiled once for a dialect, and the id's bind converter."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = STATUS_BY_ID.compile(dialect=dialect)
        self.dialect = dialect
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        id_type = TrainingJob.__table__.c.id.type
        self.bind_id: Processor = id_type.dialect_impl(dialect).bind_processor(dialect)
        self.processors: list[Processor] | None = None  # from the first result's types

    def arguments(self, job_id: uuid.UUID, tenant: str) -> Any:
        bound_id = self.bind_id(job_id) if self.bind_id else job_id
        params: dict[str, Any] = {"job_id": bound_id, "tenant": tenant}
        return [params[name] for name in self.order] if self.order else params

    def row(self, row: Any, cursor: Any) -> StatusRow | None:
        """``row`` converted; the cursor's description (built anew each time it is asked for)
        is read once, for the first row."""
        if row is None:
            return None
        if self.processors is None:
            self.processors = _processors(self.dialect, cursor.description)
        return _status_row(self.processors, row)


class _Disconnected(Exception):
    """The pooled connection was dead (the server restarted, a proxy dropped it)."""


class StatusReader:
    """``STATUS_BY_ID`` compiled for one engine's dialect, run on a raw pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statement = _Compiled(engine.dialect)

    def _fetch(self, arguments: Any) -> StatusRow | None:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.statement.sql, arguments)
                return self.statement.row(cursor.fetchone(), cursor)
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
        arguments = self.statement.arguments(job_id, tenant)
        try:
            return self._fetch(arguments)
        except _Disconnected:
            return self._fetch(arguments)  # the pool dropped the dead connection: once more


class AsyncStatusReader:
    """PostgreSQL: ``STATUS_BY_ID`` on psycopg's async connections, for the event loop.

    Made and closed on the loop that uses it (the application's lifespan). When the pool has no
    connection to give within the timeout, ``fallback`` (the inline read) answers. Like the loop's
    synchronous pool (``create_loop_read_engine``): a few connections in autocommit, 2 s to get
    or open one and 2 s per statement, no ping before a read, and a read that met a connection
    the server dropped is retried once on another (the pool throws the broken one away).
    """

    POOL_MAX = 4

    def __init__(
        self, engine: Engine, fallback: Callable[[uuid.UUID, str], StatusRow | None]
    ) -> None:
        from psycopg_pool import AsyncConnectionPool

        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            raise ValueError("AsyncStatusReader reads PostgreSQL through psycopg only")
        self.statement = _Compiled(engine.dialect)
        self.fallback = fallback
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=self.POOL_MAX,
            timeout=LOOP_READ_TIMEOUT_SECONDS,
            kwargs={
                "autocommit": True,
                "connect_timeout": LOOP_READ_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={LOOP_READ_TIMEOUT_SECONDS * 1000}",
            },
            configure=self._configure,
            open=False,
            name="trainyard-status",
        )

    @staticmethod
    async def _configure(connection: Any) -> None:
        from psycopg.types.json import set_json_loads

        set_json_loads(json_loads, connection)

    async def open(self) -> None:
        """Start the pool; its first connection is made in the background."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    async def _fetch(self, arguments: Any) -> StatusRow | None:
        import psycopg

        async with self.pool.connection() as connection:
            try:
                cursor = await connection.execute(self.statement.sql, arguments, prepare=True)
                return self.statement.row(await cursor.fetchone(), cursor)
            except psycopg.OperationalError as exc:
                if connection.broken or connection.closed:
                    raise _Disconnected() from exc
                raise

    async def read(self, job_id: uuid.UUID, tenant: str) -> StatusRow | None:
        """The status of ``tenant``'s job ``job_id``; None when there is no such job."""
        from psycopg_pool import PoolTimeout

        arguments = self.statement.arguments(job_id, tenant)
        try:
            try:
                return await self._fetch(arguments)
            except _Disconnected:
                return await self._fetch(arguments)  # the pool discarded the dead connection
        except PoolTimeout:
            # No connection within the timeout (all busy, or being made again after the server
            # dropped them): read inline on the loop's own pool, as a SQLite read does.
            logger.warning("no async connection for the status read in time; reading inline")
            return self.fallback(job_id, tenant)
