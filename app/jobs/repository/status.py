"""The status read: one row by id and tenant, only the columns a status shows, no ORM.

It is the hottest query of the API (clients poll it) and it runs on the event loop, so it
skips all a status does not need: the ORM's identity map and instance state, a session and
its transaction (the connection is in autocommit: one statement is its own snapshot), the
request body and the lease columns. The statement is compiled once per dialect; each column's
own SQLAlchemy type still converts the values (UUIDs, UTC datetimes, JSON).

On SQLite the read is a lookup in a local file in WAL mode (it never waits for a writer), so
``StatusReader`` runs it inline on the loop. On PostgreSQL it is a network round trip, during
which an inline read would stop the loop: ``AsyncpgStatusReader`` runs the same statement on a
small asyncpg pool, so the loop serves other requests while the server answers. asyncpg is
used for this read alone (the rest of the application is on SQLAlchemy and psycopg): its
protocol is parsed in compiled code, and a read costs less than half the CPU of one on
psycopg's async connections and psycopg_pool (``docs/performance.md``), which was a third of a
status GET's. A database URL with anything asyncpg would not read as libpq does keeps the read
on psycopg (``PsycopgStatusReader``). Both have the same timeouts, the same single retry on a
dropped connection, the same inline fallback when no connection can be had, the same tenant
scoping and the same row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy import bindparam, select
from sqlalchemy.engine import URL, Dialect, Engine

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


class AsyncStatusReader(Protocol):
    """A status read for the event loop, opened and closed on the loop that uses it (the
    application's lifespan). When no connection can be had within the timeout, ``fallback``
    (the inline read) answers."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def read(self, job_id: uuid.UUID, tenant: str) -> StatusRow | None: ...


def async_status_reader(
    engine: Engine, fallback: Callable[[uuid.UUID, str], StatusRow | None]
) -> AsyncStatusReader:
    """asyncpg for ``engine``'s database when its URL and the environment say nothing asyncpg
    would read otherwise than libpq (``asyncpg_connect_arguments``); psycopg's async pool if not."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        raise ValueError("the async status read is for PostgreSQL through psycopg only")
    arguments = asyncpg_connect_arguments(engine.url, os.environ)
    if arguments is None:
        logger.info("the database URL has options asyncpg does not take: status reads on psycopg")
        return PsycopgStatusReader(engine, fallback)
    return AsyncpgStatusReader(arguments, fallback)


# Query options of a libpq URL that asyncpg's DSN parser reads as libpq does (asyncpg's
# connect_utils); ``options`` and ``application_name`` go to the server as startup parameters,
# as libpq sends them; ``connect_timeout`` is replaced by the read's own, as on psycopg.
_ASYNCPG_DSN_OPTIONS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)
_STARTUP_OPTIONS = frozenset({"options", "application_name"})
# libpq's environment variables that asyncpg does not read: psycopg honours them, so with one
# set the two could reach another server, schema or authentication.
_LIBPQ_ONLY_ENVIRONMENT = (
    "PGOPTIONS",
    "PGHOSTADDR",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGREQUIREAUTH",
    "PGCHANNELBINDING",
    "PGGSSENCMODE",
    "PGSYSCONFDIR",
)
APPLICATION_NAME = "trainyard-status"


def asyncpg_connect_arguments(url: URL, environment: Mapping[str, str]) -> dict[str, Any] | None:
    """``asyncpg.create_pool``'s connection arguments for the SQLAlchemy ``url`` (user, password,
    host, port and database as given, its query options in a DSN, the 2 s statement timeout
    appended to the server options), or None when the URL or the environment holds anything
    asyncpg would not read as libpq does: then the read stays on psycopg."""
    if any(environment.get(name) for name in _LIBPQ_ONLY_ENVIRONMENT):
        return None
    query: dict[str, str] = {}
    startup: dict[str, str] = {}
    for key, value in url.query.items():
        if not isinstance(value, str):
            return None  # several hosts: libpq's and asyncpg's rules for lists differ
        if key in _ASYNCPG_DSN_OPTIONS:
            query[key] = value
        elif key in _STARTUP_OPTIONS:
            startup[key] = value
        elif key != "connect_timeout":
            return None
    timeout = f"-c statement_timeout={LOOP_READ_TIMEOUT_SECONDS * 1000}"
    startup["options"] = f"{startup['options']} {timeout}" if "options" in startup else timeout
    startup.setdefault("application_name", APPLICATION_NAME)
    arguments: dict[str, Any] = {
        "dsn": f"postgresql://?{urlencode(query)}" if query else None,
        "user": url.username,
        "password": url.password,
        "host": url.host,
        "port": url.port,
        "database": url.database,
        "timeout": LOOP_READ_TIMEOUT_SECONDS,
        "server_settings": startup,
    }
    return {name: value for name, value in arguments.items() if value is not None}


class AsyncpgStatusReader:
    """PostgreSQL: ``STATUS_BY_ID`` on an asyncpg pool, for the event loop.

    asyncpg parses the protocol in compiled code: a read costs well under half the CPU of one
    on psycopg's async connections and its pool (``docs/performance.md``). Like the loop's
    synchronous pool (``create_loop_read_engine``): up to four connections, 2 s to get or open
    one and 2 s per statement (on the server), no ping before a read, and a read that met a
    connection the server dropped is retried once on another (the pool opens a new one in
    place of a closed one). No transaction is ever opened (one SELECT is its own snapshot), so
    a returned connection is not reset (asyncpg's default reset is a round trip per read). The
    row's values are the inline read's: the id is the one asked for, timestamps are UTC-aware,
    the JSON columns are parsed by ``json_loads``.
    """

    POOL_MAX = 4

    def __init__(
        self,
        arguments: dict[str, Any],
        fallback: Callable[[uuid.UUID, str], StatusRow | None],
    ) -> None:
        from sqlalchemy.dialects.postgresql.asyncpg import dialect

        compiled = STATUS_BY_ID.compile(dialect=dialect())  # type: ignore[no-untyped-call]
        self.sql = str(compiled)
        self.order = tuple(compiled.positiontup or ())
        self.arguments = arguments
        self.fallback = fallback
        self.pool: Any = None
        self._warming: asyncio.Task[None] | None = None
        # Reads take turns for the pool's connections in the order they came. asyncpg's pool
        # lets a read that arrives as a connection comes back take it before the read woken
        # for it, which then queues again at the back: under load some reads waited hundreds
        # of milliseconds (p99 278 ms at a p50 of 10). asyncio's semaphore wakes its waiters
        # in order and keeps the freed place for the one it wakes.
        self._turns: asyncio.Semaphore | None = None

    @staticmethod
    async def _init(connection: Any) -> None:
        await connection.set_type_codec(
            "json", schema="pg_catalog", encoder=json.dumps, decoder=json_loads, format="text"
        )

    @staticmethod
    async def _no_reset(connection: Any) -> None:
        """Nothing to undo: the reads open no transaction, set nothing and listen to nothing."""

    async def open(self) -> None:
        """Make the pool; its first connection is made in the background."""
        import asyncpg

        self._turns = asyncio.Semaphore(self.POOL_MAX)
        self.pool = await asyncpg.create_pool(
            min_size=0,
            max_size=self.POOL_MAX,
            init=self._init,
            reset=self._no_reset,
            **self.arguments,
        )
        self._warming = asyncio.get_running_loop().create_task(self._warm())

    async def _warm(self) -> None:
        try:
            async with asyncio.timeout(LOOP_READ_TIMEOUT_SECONDS):
                connection = await self.pool.acquire()
            await self.pool.release(connection)
        except Exception as exc:  # the first read will try again
            logger.warning("the status reads' first connection failed: %s", exc)

    async def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
        if self.pool is not None:
            await self.pool.close()

    async def _connection(self) -> Any:
        import asyncpg

        try:
            if self.pool.get_idle_size():
                # A live idle connection: the pool hands it over without waiting (its queue
                # gives live ones first), so no timer is armed (one cost a sixth of the read).
                return await self.pool.acquire()
            async with asyncio.timeout(LOOP_READ_TIMEOUT_SECONDS):
                return await self.pool.acquire()
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _NoConnection() from exc

    async def _turn(self) -> asyncio.Semaphore:
        """Wait for this read's turn (at most the connection timeout, as for a connection)."""
        turns = self._turns
        assert turns is not None
        if turns.locked():
            try:
                async with asyncio.timeout(LOOP_READ_TIMEOUT_SECONDS):
                    await turns.acquire()
            except TimeoutError as exc:
                raise _NoConnection() from exc
        else:
            await turns.acquire()  # a free place: taken at once, no timer armed
        return turns

    async def _fetch(self, job_id: uuid.UUID, arguments: list[Any]) -> StatusRow | None:
        import asyncpg

        turns = await self._turn()
        try:
            connection = await self._connection()
            try:
                record = await connection.fetchrow(self.sql, *arguments)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if _closed(connection):
                    raise _Disconnected() from exc
                raise
            finally:
                await self.pool.release(connection)
        finally:
            turns.release()
        if record is None:
            return None
        return StatusRow(job_id, *record[1:])  # the id asked for: an exact uuid.UUID

    async def read(self, job_id: uuid.UUID, tenant: str) -> StatusRow | None:
        """The status of ``tenant``'s job ``job_id``; None when there is no such job."""
        values = {"job_id": job_id, "tenant": tenant}
        arguments = [values[name] for name in self.order]
        try:
            try:
                return await self._fetch(job_id, arguments)
            except _Disconnected:
                return await self._fetch(job_id, arguments)  # on another connection
        except _NoConnection:
            # No connection within the timeout (all busy, or the server cannot be reached):
            # read inline on the loop's own pool, as a SQLite read does.
            logger.warning("no async connection for the status read in time; reading inline")
            return self.fallback(job_id, tenant)


def _closed(connection: Any) -> bool:
    """Whether the server or the network closed ``connection`` (the pool takes a closed one
    back at once, and then refuses every call on it)."""
    import asyncpg

    try:
        return bool(connection.is_closed())
    except asyncpg.InterfaceError:
        return True


class _NoConnection(Exception):
    """The pool gave no connection within the timeout."""


class PsycopgStatusReader:
    """PostgreSQL: ``STATUS_BY_ID`` on psycopg's async connections, for a database URL that
    asyncpg would not read as libpq does (``asyncpg_connect_arguments``).

    The same pool size, timeouts, retry and fallback as ``AsyncpgStatusReader``; the statement
    is prepared on each connection and converted by the columns' SQLAlchemy types.
    """

    POOL_MAX = 4

    def __init__(
        self, engine: Engine, fallback: Callable[[uuid.UUID, str], StatusRow | None]
    ) -> None:
        from psycopg_pool import AsyncConnectionPool

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
            name=APPLICATION_NAME,
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
            logger.warning("no async connection for the status read in time; reading inline")
            return self.fallback(job_id, tenant)
