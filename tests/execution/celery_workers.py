"""Real ``celery worker`` processes on loopback, for the Celery tests and the benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TRAINYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Settings a worker takes from its environment, as the compose file gives them.
WORKER_SETTINGS = (
    "database_url",
    "executor",
    "celery_broker_url",
    "celery_queue",
    "artifact_root",
    "data_roots",
    "mlflow_tracking_uri",
    "lease_seconds",
    "poll_interval_seconds",
    "max_n_jobs",
    "max_rows",
    "max_bytes",
    "evaluation_importance_seconds",
)


def redis_problem(url: str = REDIS_URL) -> str | None:
    """None when Redis answers at ``url``, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    finally:
        client.close()
    return None


def redis_or_skip() -> str:
    """The test Redis URL, flushed; skip without Redis, fail in CI (REQUIRE_SERVICES)."""
    import pytest

    from tests.fixtures import REQUIRE_SERVICES

    problem = redis_problem()
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem}, and CI requires Redis (TRAINYARD_TEST_REDIS_URL)")
        pytest.skip(f"the Celery tests need Redis (TRAINYARD_TEST_REDIS_URL): {problem}")
    flush_redis()
    return REDIS_URL


def flush_redis(url: str = REDIS_URL) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_counts(url: str, queue: str) -> tuple[int, int]:
    """(messages waiting in ``queue``, messages delivered but not acknowledged)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        return int(client.llen(queue)), int(client.hlen("unacked"))
    finally:
        client.close()


def worker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The parent environment without any TRAINYARD_* of its own, plus the worker's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    dumped = settings.model_dump(mode="json")
    for name in WORKER_SETTINGS:
        value = dumped[name]
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        env[f"TRAINYARD_{name.upper()}"] = text
    env["TRAINYARD_EXECUTOR"] = "celery"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, process group) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                children.setdefault(stat[1], []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def attempt_processes(worker_pid: int) -> list[int]:
    """The processes of the attempts a worker runs: each attempt leads its own process group,
    and its joblib/loky workers are in that group."""
    below = descendants(worker_pid)
    groups = {pid for pid in below if (stat := _stat(pid)) is not None and stat[2] == pid}
    return [pid for pid in below if (stat := _stat(pid)) is not None and stat[2] in groups]


def describe(pids: list[int]) -> list[str]:
    """pid, state, parent and command line of each process, for assertion messages."""
    out = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
        except OSError:
            command = b"?"
        out.append(f"{pid} {_stat(pid)} {command.decode(errors='replace')}")
    return out


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait for the processes to end; returns those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


class Worker:
    """One ``celery -A app.execution.celery_app worker`` process (threads pool)."""

    def __init__(
        self, settings: Settings, log_dir: Path, *, concurrency: int = 1, name: str | None = None
    ) -> None:
        self.name = name or f"w{uuid.uuid4().hex[:6]}"
        self.settings = settings
        self.log_path = log_dir / f"{self.name}.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[Any] | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "app.execution.celery_app",
            "worker",
            "--loglevel=INFO",
            f"--queues={self.settings.celery_queue}",
            f"--concurrency={self.concurrency}",
            "--pool=threads",
            f"--hostname={self.name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Worker:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=worker_environment(self.settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the worker consumes: Celery logs '<name>@host ready.' after the forkserver
        preload (done in worker_init)."""
        deadline = time.monotonic() + timeout
        while f"{self.name}@" not in self.log() or " ready." not in self.log():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} not ready in {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9 the worker process alone, as a crash or an OOM kill would."""
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of whatever is left below it."""
        if self.process is None:
            return
        left = descendants(self.pid) if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in wait_until_gone(left, timeout=5):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


def start_workers(settings: Settings, log_dir: Path, count: int, **kwargs: Any) -> list[Worker]:
    """Start ``count`` workers side by side and wait until every one consumes."""
    workers = [Worker(settings, log_dir, **kwargs).start() for _ in range(count)]
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        for worker in workers:
            worker.stop(timeout=5)
        raise
    return workers
