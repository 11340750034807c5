"""The embedded MLflow store's SQLite settings: WAL, and synchronous=NORMAL on every connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from app.integrations.registry.mlflow import MlflowRegistryClient
from app.integrations.registry.store import open_client

NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        mode: str = connection.execute("PRAGMA journal_mode").fetchone()[0]
    return mode


def settings_of(engine: Any) -> tuple[str, int]:
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    return mode, synchronous


def test_a_store_created_at_start_up_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    MlflowRegistryClient(f"sqlite:///{path}", artifact_root=tmp_path / "mlruns").initialize()
    assert journal_mode(path) == "wal"


def test_a_store_mlflow_made_is_switched_and_every_connection_syncs_normally(
    tmp_path: Path,
) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path = tmp_path / "mlflow.db"
    uri = f"sqlite:///{path}"
    SqlAlchemyStore(uri, (tmp_path / "mlruns").as_uri())  # type: ignore[no-untyped-call]
    assert journal_mode(path) == "delete"  # MLflow's own default

    client = open_client(uri)
    tracking = client._tracking_client.store.engine
    registry = client._get_registry_client().store.engine
    assert settings_of(tracking) == ("wal", NORMAL)
    assert settings_of(registry) == ("wal", NORMAL)
    assert journal_mode(path) == "wal"

    # The stores work as before through the client.
    run = client.create_run("0")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("flowers")
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
