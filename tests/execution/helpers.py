"""Process helpers for the engine tests: who is in a process group, and a real server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import wait_for_job

ROOT = Path(__file__).resolve().parents[2]

# A fit that runs until it is stopped (tens of minutes), and one that takes a few seconds.
ENDLESS_FIT = {"name": "GradientBoostingClassifier", "parameters": {"n_estimators": 5000}}
DIGITS = {"path": "sklearn://digits", "target_column": "target"}


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def attempt_pgid(database_url: str, job_id: str, attempt: int, timeout: float = 30) -> int:
    """The process group running ``attempt`` of the job, from the lease owner the supervisor
    records once the child has started."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(
                    text("SELECT attempt, lease_owner, status FROM training_job WHERE id = :id"),
                    {"id": uuid.UUID(job_id).hex if "sqlite" in database_url else job_id},
                ).first()
            if row is not None and row.attempt == attempt and row.lease_owner:
                match = re.search(r"pgid=(\d+)", row.lease_owner)
                if match:
                    return int(match.group(1))
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"attempt {attempt} of job {job_id} never started")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``uvicorn app.main:app`` in a subprocess, configured through the environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        environment = {**os.environ, **self.env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "app.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log.read_text()[-3000:]}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def settings_env(settings: Any) -> dict[str, str]:
    """The environment that gives a server process the same settings as ``settings``."""
    return {
        "TRAINYARD_DATABASE_URL": settings.database_url,
        "TRAINYARD_ARTIFACT_ROOT": str(settings.artifact_root),
        "TRAINYARD_DATA_ROOTS": ",".join(str(r) for r in settings.data_roots),
        "TRAINYARD_LEASE_SECONDS": str(settings.lease_seconds),
        "TRAINYARD_POLL_INTERVAL_SECONDS": str(settings.poll_interval_seconds),
        "TRAINYARD_REAPER_INTERVAL_SECONDS": str(settings.reaper_interval_seconds),
        "TRAINYARD_MAX_CONCURRENT_JOBS": str(settings.max_concurrent_jobs),
        "TRAINYARD_SHUTDOWN_GRACE_SECONDS": str(settings.shutdown_grace_seconds),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
    }


def wait_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """``wait_for_job`` for a client of a live server."""
    return wait_for_job(client, job_id, statuses=statuses, timeout=timeout)
