"""A live server for the user-tool tests: uvicorn in a subprocess on a free loopback port,
with its own SQLite database, data root and artifact folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, alembic_upgrade


@dataclass(frozen=True)
class LiveServer:
    url: str
    data_root: Path
    artifact_root: Path
    log_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a CLI or curl script talking to this server."""
        return {**os.environ, "TRAINYARD_URL": self.url, "PYTHONUNBUFFERED": "1", **extra}

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("live")
    database = f"sqlite:///{base / 'trainyard.db'}"
    alembic_upgrade(database)
    data_root = base / "data"
    data_root.mkdir()
    artifact_root = base / "artifacts"
    port = free_port()
    env = {
        **os.environ,
        "TRAINYARD_DATABASE_URL": database,
        "TRAINYARD_DATA_ROOTS": str(data_root),
        "TRAINYARD_ARTIFACT_ROOT": str(artifact_root),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "TRAINYARD_MAX_CONCURRENT_JOBS": "2",
        "TRAINYARD_MAX_N_JOBS": "1",
        "TRAINYARD_POLL_INTERVAL_SECONDS": "0.1",
        "TRAINYARD_SHUTDOWN_GRACE_SECONDS": "0",
        "TRAINYARD_LOG_FORMAT": "json",
        "TRAINYARD_API_KEYS": "",
    }
    log_path = base / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", data_root, artifact_root, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{server.server_log()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in 90 s:\n{server.server_log()}")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
