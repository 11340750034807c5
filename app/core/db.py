"""Engine, sessions and the declarative base (with a constraint naming convention)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Event
from typing import Any

from pydantic_core import from_json
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# As many pooled connections as FastAPI's thread pool has threads (anyio's default, 40): a
# connection opened past the pool is closed after one use, and opening one costs its PRAGMAs.
SQLITE_POOL_SIZE = 40
LOOP_READ_TIMEOUT_SECONDS = 2

logger = logging.getLogger(__name__)


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value, parsed by pydantic-core (several times faster than ``json.loads``
    on the small documents a job row holds); the standard library for anything it refuses
    (``json.loads`` accepts lone surrogate escapes, for one)."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) go on while a training process writes progress;
    # the busy timeout makes concurrent writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
    dbapi_connection.isolation_level = None


def _begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" when another process wrote in between; taking the write lock up front makes
    # it wait for the busy timeout instead. Read-only sessions (make_read_session_factory)
    # begin deferred, so they never queue behind writers: WAL readers see a snapshot.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(url: str) -> Engine:
    """Create an engine; for SQLite, make the parent folder and set WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        pool: dict[str, Any] = {}
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pool,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create_loop_read_engine(engine: Engine) -> Engine:
    """A second engine on ``engine``'s database for short reads made on the event loop.

    A read by primary key costs less than the two thread switches FastAPI makes to run it in
    its thread pool, so the status route reads inline. It must never wait for long: the pool is
    its own (the thread pool cannot starve it; one loop reads one statement at a time), its
    connections are in autocommit (a single SELECT is its own snapshot; no BEGIN, no ROLLBACK
    round trip), SQLite readers in WAL mode never wait for writers, and PostgreSQL connections
    give up on connecting and on a statement after a few seconds. Its JSON columns are parsed by
    ``json_loads``.

    Its reads go through the pool's raw DBAPI connections (``repository.status``).
    """
    url = engine.url
    options: dict[str, Any] = {
        "pool_size": 1,
        "max_overflow": 4,
        "pool_timeout": LOOP_READ_TIMEOUT_SECONDS,
        "isolation_level": "AUTOCOMMIT",
        "json_deserializer": json_loads,
        # Nothing to roll back on return: autocommit, one SELECT read to its end.
        "pool_reset_on_return": None,
    }
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return engine  # a second engine would see another database
        loop_engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **options,
        )
        event.listen(loop_engine, "connect", _on_sqlite_connect)
        return loop_engine
    if url.get_backend_name() == "postgresql":
        options["connect_args"] = {
            "connect_timeout": LOOP_READ_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={LOOP_READ_TIMEOUT_SECONDS * 1000}",
        }
    # No pre-ping (a round trip per read): the status read retries once on a dropped connection.
    return create_engine(url, **options)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads only: on SQLite they do not take the write lock."""
    return sessionmaker(
        bind=engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


class CommitWatch:
    """Whether any other connection committed since the last look, for a reader that polls.

    SQLite: ``PRAGMA data_version`` on a connection of its own (in autocommit, so it holds no
    snapshot) changes exactly when another connection commits, whichever process it is in;
    one cheap statement answers "anything new?" before any table is read. Other databases:
    always ``True`` (PostgreSQL readers are woken by ``NOTIFY`` instead)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "sqlite"
        self.checks = 0
        self._connection: Any = None
        self._version: int | None = None

    def changed(self) -> bool:
        if not self.enabled:
            return True
        self.checks += 1
        try:
            if self._connection is None:
                self._connection = self.engine.raw_connection()
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                version = int(cursor.fetchone()[0])
            finally:
                cursor.close()
        except Exception:
            logger.warning("PRAGMA data_version failed; reading anyway", exc_info=True)
            self.close()
            return True
        changed = version != self._version
        self._version = version
        return changed

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._version = None
            try:
                connection.close()
            except Exception:
                logger.debug("closing the commit watch's connection failed", exc_info=True)


def listen(engine: Engine, channel: str, on_notify: Callable[[], None], stop: Event) -> None:
    """PostgreSQL only: call ``on_notify`` for every ``NOTIFY channel`` until ``stop`` is set,
    on a connection of its own (reconnecting after an error). Run it in a thread."""
    import psycopg

    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {channel}")
                on_notify()  # whatever was sent while this connection was not listening
                while not stop.is_set():
                    for _ in connection.notifies(timeout=1.0):
                        on_notify()
        except psycopg.Error:
            logger.warning("listening on %s failed; retrying", channel, exc_info=True)
            stop.wait(1.0)


def _on_foreign_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    import sqlite3

    cursor = dbapi_connection.cursor()
    try:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            # Leaving the rollback journal needs the file to itself, and another process held
            # it. The connection works as before; a later one switches the file.
            pass
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def tune_sqlite_engine(engine: Any) -> None:
    """WAL and ``synchronous=NORMAL`` on each connection of a SQLite engine that another library
    built and keeps (MLflow's stores), as on ours; once per engine, and nothing else of its
    transactions changes. Its open connections are closed: they lack the settings."""
    if engine.dialect.name != "sqlite" or event.contains(
        engine, "connect", _on_foreign_sqlite_connect
    ):
        return
    event.listen(engine, "connect", _on_foreign_sqlite_connect)
    engine.dispose()
