"""Opening MLflow's stores: the ``MlflowClient`` of a process, its tracking and registry stores,
and the SQLite settings of the embedded store.

MLflow opens a SQLite store in the rollback-journal mode with ``synchronous=FULL``: every
transaction (a run started, a batch logged, a version registered, an alias moved) creates,
syncs and deletes a journal file, a few syncs of the disk each. A job makes about ten such
transactions. In WAL mode with ``synchronous=NORMAL`` a commit appends to the log and syncs
nothing (the log is synced at checkpoints); a power cut can lose the last commits but not
corrupt the file, the same trade Trainyard's own SQLite database makes (``app.core.db``).
MLflow builds its engines itself (``mlflow.store.db.utils.create_sqlalchemy_engine``) and has
no setting for either pragma, so ``app.core.db.tune_sqlite_engine`` sets them with a
``connect`` listener on the engines it built. The journal mode is a property of the file: it
is set when the store is created, and by each connection after (a no-op once the file is in
WAL mode).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.db import tune_sqlite_engine

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
REMOTE_SCHEMES = ("http://", "https://", "databricks")

# ``mlflow.sklearn.log_model`` and a ``models:/`` source read the tracking URI from a process
# global; the lock keeps two threads of one process from swapping it under each other.
fluent_lock = threading.Lock()


def is_remote(tracking_uri: str) -> bool:
    return tracking_uri.startswith(REMOTE_SCHEMES)


@contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def is_sql_store(tracking_uri: str) -> bool:
    return tracking_uri.split(":", 1)[0].split("+", 1)[0] in SQL_SCHEMES


def create_store(tracking_uri: str, artifact_root: Path | None) -> None:
    """Create the tables and the Default experiment (its artifacts under ``artifact_root``
    rather than in ./mlruns), and put a SQLite file in WAL mode."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if artifact_root is not None:
        artifact_root.mkdir(parents=True, exist_ok=True)
    root = artifact_root.as_uri() if artifact_root is not None else "./mlruns"
    store = SqlAlchemyStore(tracking_uri, root)  # type: ignore[no-untyped-call]
    tune_sqlite_engine(store.engine)
    with store.engine.connect() as connection:  # the listener sets the journal mode
        connection.exec_driver_sql("SELECT 1")


def open_client(tracking_uri: str) -> Any:
    """An ``MlflowClient`` whose tracking and registry stores are built (schema checked, engine
    tuned), so that a job's first calls pay for neither.

    MLflow builds the registry store on the first registry call; it is built here. Both are
    cached by MLflow per process, as are their engines: a process that did this once (a spare
    attempt process, before it is given a job) finds them ready.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    if is_sql_store(tracking_uri):
        # MlflowClient exposes its stores only through these attributes.
        tune_sqlite_engine(client._tracking_client.store.engine)
        tune_sqlite_engine(client._get_registry_client().store.engine)  # type: ignore[no-untyped-call]
    return client
