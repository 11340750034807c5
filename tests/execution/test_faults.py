"""Faults a real deployment meets: the database restarted mid-job, the broker restarted with
jobs queued, the artifact volume full. Each on a server of the test's own (a private
PostgreSQL cluster, a private Redis, a small tmpfs), so the machine's shared ones are left be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.execution.celery_workers import redis_counts, start_workers
from tests.fixtures import REQUIRE_SERVICES
from tests.fixtures.app import make_settings
from tests.fixtures.database import alembic_upgrade
from tests.fixtures.jobs import job_request, wait_for_job
from tests.fixtures.network import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}, and CI runs the fault tests")
    pytest.skip(reason)


def _wait(predicate: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout}s"
        time.sleep(0.1)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, run as the ``postgres`` user."""

    def __init__(self) -> None:
        versions = sorted(os.listdir(PG_ROOT)) if PG_ROOT.is_dir() else []
        if not versions or os.geteuid() != 0 or shutil.which("runuser") is None:
            _unavailable("the PostgreSQL fault test needs root, runuser and PostgreSQL's binaries")
        self.bin = PG_ROOT / versions[-1] / "bin"
        self.root = Path(tempfile.mkdtemp(prefix="trainyard-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )

    def init(self) -> PrivatePostgres:
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"
        )
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init()
    server.start()
    try:
        yield server
    finally:
        server.remove()


class PrivateRedis:
    """A ``redis-server`` of the test's own, keeping nothing on disk (as the shipped
    machine's), so a restart loses every queued message."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            _unavailable("the Redis fault test needs redis-server")
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
            except redis.RedisError:
                return False

        _wait(answers, "redis-server start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def test_jobs_recover_when_postgresql_restarts_mid_job(
    private_postgres: PrivatePostgres, tmp_path: Path, data_root: Path
) -> None:
    alembic_upgrade(private_postgres.url)
    settings = make_settings(private_postgres.url, tmp_path, data_root, lease_seconds=3.0)
    # Long enough to be training when the database goes away: a few seconds of trees.
    body = job_request(
        model_name="through-a-restart",
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 400}},
    )
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
        wait_for_job(client, job_id, statuses={"running"}, timeout=120)
        private_postgres.stop()
        assert client.get("/readyz").status_code == 503  # says so while the database is away
        time.sleep(2)
        private_postgres.start()
        # The same API process answers again, without a restart of its own, and the job ends.
        _wait(lambda: client.get("/readyz").status_code == 200, "readiness after the restart")
        done = wait_for_job(client, job_id, timeout=240)
    assert done["status"] == "completed", done
    assert done["metrics"]["validation_accuracy"] > 0.8


@pytest.mark.postgres
def test_no_job_is_lost_when_redis_restarts_with_jobs_queued(
    postgres_database: str, tmp_path: Path, data_root: Path
) -> None:
    from tests.fixtures.database import truncate_postgres

    truncate_postgres(postgres_database)
    redis = PrivateRedis(tmp_path)
    redis.start()
    settings = make_settings(
        postgres_database,
        tmp_path,
        data_root,
        executor="celery",
        celery_broker_url=redis.url,
        celery_queue=f"training-{uuid.uuid4().hex[:8]}",
        lease_seconds=3.0,
        celery_republish_after_seconds=2.0,
    )
    workers = []
    try:
        with TestClient(create_app(settings)) as client:
            job_ids = [
                client.post("/v1/training-jobs", json=job_request(model_name=f"q{i}")).json()[
                    "job_id"
                ]
                for i in range(3)
            ]
            _wait(
                lambda: redis_counts(settings.celery_broker_url, settings.celery_queue)[0] == 3,
                "three messages queued",
            )
            redis.stop()  # every queued message is gone with it
            redis.start()
            assert redis_counts(settings.celery_broker_url, settings.celery_queue) == (0, 0)
            workers = start_workers(settings, tmp_path, 1)
            done = [wait_for_job(client, job_id, timeout=240) for job_id in job_ids]
        assert [d["status"] for d in done] == ["completed"] * 3, done
    finally:
        for worker in workers:
            worker.stop()
        redis.stop()


@pytest.fixture
def full_volume(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: room for a job's small files, not for a forest."""
    mount = tmp_path / "volume"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        _unavailable(f"a tmpfs cannot be mounted here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_artifact_volume_fails_the_job_saying_so_and_the_service_serves_on(
    settings: Settings, full_volume: Path
) -> None:
    settings = settings.model_copy(update={"artifact_root": full_volume})
    body = job_request(
        model_name="too-big",
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 200}},
    )
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
        done = wait_for_job(client, job_id, timeout=120)
        assert done["status"] == "failed", done
        assert done["error"]["stage"] == "storing_artifacts", done["error"]
        assert "No space left on device" in done["error"]["message"]
        # Nothing half-written is served, and the service answers on.
        assert client.get(f"/v1/training-jobs/{job_id}/model").status_code == 409
        assert not (full_volume / job_id / "model.skops").exists()
        assert client.get("/v1/training-jobs").status_code == 200
        assert client.get("/healthz").status_code == 200
