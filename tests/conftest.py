"""Shared fixtures: a migrated database (SQLite file, and PostgreSQL when available), settings
that point every path into a temporary folder, and a client for the real app."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
# The local server's default address (.ci/run's too); used when it answers and the variable
# is unset. TRAINYARD_TEST_POSTGRES_URL= (empty) turns the PostgreSQL tests off.
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REQUIRE_SERVICES = os.environ.get("TRAINYARD_TEST_REQUIRE_SERVICES") == "1"


def _answers(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _postgres_url() -> str:
    if "TRAINYARD_TEST_POSTGRES_URL" in os.environ:
        return os.environ["TRAINYARD_TEST_POSTGRES_URL"]
    return DEFAULT_POSTGRES_URL if _answers(DEFAULT_POSTGRES_URL) else ""


POSTGRES_URL = _postgres_url()
TERMINAL = {"completed", "failed", "cancelled"}


def alembic_upgrade(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def postgres_or_skip() -> str:
    if not POSTGRES_URL:
        if REQUIRE_SERVICES:
            pytest.fail("TRAINYARD_TEST_POSTGRES_URL is not set, and CI requires PostgreSQL")
        pytest.skip(
            f"no PostgreSQL server: none answers at {DEFAULT_POSTGRES_URL} and "
            "TRAINYARD_TEST_POSTGRES_URL names none"
        )
    return POSTGRES_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "trainyard.db"
    alembic_upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session, migrated once."""
    server = postgres_or_skip()
    name = f"trainyard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if REQUIRE_SERVICES:
            raise
        pytest.skip(f"PostgreSQL at {server} is not usable: {exc}")
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    alembic_upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "trainyard.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    truncate_postgres(url)
    return url


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def make_settings(database_url: str, tmp_path: Path, data_root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "artifact_root": tmp_path / "artifacts",
        "data_roots": [data_root],
        "lease_seconds": 5.0,
        "poll_interval_seconds": 0.1,
        "reaper_interval_seconds": 0.5,
        "max_concurrent_jobs": 2,
        "max_n_jobs": 2,
        "shutdown_grace_seconds": 0.0,
        "mlflow_tracking_uri": "",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, data_root: Path) -> Settings:
    return make_settings(database_url, tmp_path, data_root)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def wait_for_job(
    client: httpx.Client, job_id: str, *, statuses: set[str] = TERMINAL, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s: {body}")
        time.sleep(0.05)


def job_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_name": "iris-model",
        "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
        "algorithm_config": {"name": "RandomForestClassifier", "parameters": {"n_estimators": 20}},
    }
    body.update(overrides)
    return body


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """End the report with one plain line (after the short summary, before the counts): how
    many tests were skipped, and why."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        terminalreporter.write_line("skipped: nothing")
        return
    parts = [f"{count} because {reason}" for reason, count in sorted(reasons.items())]
    terminalreporter.write_line(f"skipped {sum(reasons.values())}: " + "; ".join(parts))
