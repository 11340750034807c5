"""The image and the compose stack, built and started for real on a Docker engine.

Runs with ``make container-test`` (CI calls it), only when a Docker engine answers; with
TRAINYARD_TEST_REQUIRE_SERVICES=1 a missing engine fails instead. Base images that cannot be
pulled are built as stand-ins first (deploy/standins/build.sh). Every request goes to
loopback ports published by containers these tests start. Each step and its time are
logged to stdout and to test-artifacts/containers.log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.trainer.artifacts import load_model
from tests.fixtures import REQUIRE_SERVICES, ROOT
from tests.fixtures.jobs import TERMINAL

pytestmark = [pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(1500)]

IMAGE = "trainyard:latest"
PROJECT = "trainyard-ci"
COMPOSE = [
    "docker",
    "compose",
    "--project-name",
    PROJECT,
    "--file",
    str(ROOT / "docker-compose.yml"),
]
API = "http://127.0.0.1:8000"
MLFLOW = "http://127.0.0.1:5000"
LOG = ROOT / "test-artifacts" / "containers.log"
# The README's curl walkthrough submits this body; train exactly that.
README_JOB: dict[str, Any] = json.loads(
    re.search(r"-d '(\{.*?\})'", (ROOT / "README.md").read_text(), re.S).group(1)  # type: ignore[union-attr]
)
# Long enough (tens of seconds on a busy core) to be killed while it trains.
SLOW_JOB: dict[str, Any] = {
    "model_name": "digits-slow",
    "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
    "algorithm_config": {
        "name": "RandomForestClassifier",
        "parameters": {"n_estimators": 1500, "n_jobs": 1},
    },
}


def log(message: str) -> None:
    line = f"[containers {time.strftime('%H:%M:%S')}] {message}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("a") as file:
        file.write(line + "\n")


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    log(f"{name} ...")
    try:
        yield
    except BaseException:
        log(f"{name}: FAILED after {time.monotonic() - start:.1f} s")
        raise
    log(f"{name}: ok in {time.monotonic() - start:.1f} s")


def run(argv: list[str], *, timeout: float = 900, check: bool = True, **kwargs: Any) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-4000:]}"
        )
    out: str = result.stdout
    return out


def engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info did not answer"
    if result.returncode != 0:
        return "no Docker engine answers"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        return "no docker compose plugin"
    return None


def build_env() -> dict[str, str]:
    env = dict(os.environ)
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"  # the engine's own builder when buildx is not installed
    return env


@pytest.fixture(scope="module")
def images() -> None:
    problem = engine_problem()
    if problem:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem}, and CI requires Docker (deploy/docker-engine.sh sets it up)")
        pytest.skip(f"the container tests need Docker: {problem} (deploy/docker-engine.sh)")
    LOG.unlink(missing_ok=True)
    with step("base images (official, or stand-ins: deploy/standins/build.sh)"):
        run([str(ROOT / "deploy" / "standins" / "build.sh")], env=build_env(), timeout=1800)
    with step(f"docker build -t {IMAGE} ."):
        run(
            ["docker", "build", "--quiet", "--tag", IMAGE, str(ROOT)], env=build_env(), timeout=1800
        )


def wait_for(what: str, predicate: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def health(container: str) -> str:
    return run(["docker", "inspect", "-f", "{{.State.Health.Status}}", container]).strip()


def wait_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        return body if body["status"] in TERMINAL else None

    result: dict[str, Any] = wait_for(f"job {job_id}", finished, timeout, interval=0.5)
    return result


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/v1/training-jobs", json=body)
    assert response.status_code in (201, 202), response.text
    return str(response.json()["job_id"])


# -- the image alone ------------------------------------------------------------------------


def test_the_image_alone_trains_the_readme_job_with_the_registry_on(images: None) -> None:
    name = f"trainyard-ci-alone-{uuid.uuid4().hex[:6]}"
    with step("image alone: docker run"):
        run(["docker", "run", "--detach", "--name", name, "--publish", "127.0.0.1::8000", IMAGE])
    try:
        port = run(["docker", "port", name, "8000/tcp"]).split()[0].rsplit(":", 1)[1]
        with step("image alone: healthy (its HEALTHCHECK probes /readyz)"):
            wait_for("healthy", lambda: health(name) == "healthy", 120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            ready = client.get("/readyz").json()
            assert ready["checks"] == dict.fromkeys(
                ["database", "executor", "artifacts", "registry"], "ok"
            ), ready
            with step("image alone: train the README's iris job"):
                job = wait_job(client, submit(client, README_JOB))
        assert job["status"] == "completed", job
        assert job["registry"]["registered_version"] == "1", job
        written = run(["docker", "exec", name, "find", "/var/lib/trainyard", "-maxdepth", "1"])
        assert {"/var/lib/trainyard/mlflow.db", "/var/lib/trainyard/mlruns"} <= set(written.split())
        model = f"/var/lib/trainyard/artifacts/{job['job_id']}/model.skops"
        run(["docker", "exec", name, "test", "-s", model])
    finally:
        run(["docker", "rm", "--force", "--volumes", name], check=False)


# -- the compose stack ----------------------------------------------------------------------


def services() -> list[dict[str, Any]]:
    out = run([*COMPOSE, "ps", "--all", "--format", "json"])
    text = out.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def stack_healthy(workers: int) -> bool:
    found = services()
    by_service: dict[str, list[dict[str, Any]]] = {}
    for container in found:
        by_service.setdefault(container["Service"], []).append(container)
    migrate = by_service.get("migrate", [])
    if migrate and migrate[0]["State"] == "exited" and migrate[0]["ExitCode"] != 0:
        raise AssertionError(f"migrate failed:\n{run([*COMPOSE, 'logs', 'migrate'])[-3000:]}")
    running = [c for c in found if c["Service"] != "migrate" and c["State"] == "running"]
    return (
        len(by_service.get("worker", [])) == workers
        and bool(migrate)
        and migrate[0]["State"] == "exited"
        and len(running) == 4 + workers
        and all(c["Health"] == "healthy" for c in running)
    )


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def psql(query: str) -> str:
    return run(
        [
            *COMPOSE,
            "exec",
            "-T",
            "postgres",
            "psql",
            "-U",
            "trainyard",
            "-d",
            "trainyard",
            "-Atc",
            query,
        ]
    ).strip()


@pytest.fixture
def stack(images: None) -> Iterator[None]:
    busy = [port for port in (8000, 5000) if port_in_use(port)]
    assert not busy, f"docker-compose.yml publishes 127.0.0.1:{busy}, which something else holds"
    run([*COMPOSE, "down", "--volumes", "--remove-orphans"], check=False)
    try:
        yield
    finally:
        if not os.environ.get("TRAINYARD_TEST_KEEP_STACK"):
            run([*COMPOSE, "down", "--volumes", "--remove-orphans"], check=False)


def test_the_compose_stack_trains_registers_serves_and_survives_failures(stack: None) -> None:
    with step("compose: up --scale worker=2 (the shipped docker-compose.yml)"):
        run([*COMPOSE, "up", "--detach", "--no-build", "--scale", "worker=2"])
    with step("compose: migrate done; api, 2 workers, postgres, redis, mlflow healthy"):
        wait_for("a healthy stack", lambda: stack_healthy(workers=2), 300, interval=2)
    client = httpx.Client(base_url=API, timeout=30)

    with step("compose: train the README's iris job"):
        job = wait_job(client, submit(client, README_JOB))
    assert job["status"] == "completed", job
    registry = job["registry"]
    with step("compose: the MLflow server holds the registered version"):
        version = httpx.get(
            f"{MLFLOW}/api/2.0/mlflow/model-versions/get",
            params={"name": README_JOB["model_name"], "version": registry["registered_version"]},
            timeout=30,
        ).json()["model_version"]
        assert version["run_id"] == registry["run_id"], version
        assert version["status"] == "READY", version
        run_info = httpx.get(
            f"{MLFLOW}/api/2.0/mlflow/runs/get", params={"run_id": registry["run_id"]}, timeout=30
        ).json()["run"]["info"]
        assert run_info["status"] == "FINISHED", run_info

    rows = json.loads((ROOT / "examples" / "iris-rows.json").read_text())
    with step("compose: download the model and predict with it here"):
        download = client.get(f"/v1/training-jobs/{job['job_id']}/model")
        assert download.status_code == 200, download.text
        path = ROOT / "test-artifacts" / "compose-model.skops"
        path.write_bytes(download.content)
        local = [int(p) for p in load_model(path).predict(_frame(rows["rows"]))]
    with step("compose: predict through the API"):
        answer = client.post(f"/v1/training-jobs/{job['job_id']}/predictions", json=rows)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == local

    with step("compose: upload a dataset and train on it"):
        csv = ROOT / "examples" / "houses.csv"
        name = f"houses-{uuid.uuid4().hex[:6]}.csv"
        uploaded = client.post("/v1/datasets", files={"file": (name, csv.read_bytes(), "text/csv")})
        assert uploaded.status_code == 201, uploaded.text
        houses = wait_job(
            client,
            submit(
                client,
                {
                    "model_name": "houses",
                    "data_source_config": {
                        "path": uploaded.json()["path"],
                        "target_column": "price_k",
                    },
                    "algorithm_config": {"name": "LinearRegression"},
                },
            ),
        )
        assert houses["status"] == "completed", houses

    with step("compose: docker kill the worker training a job; the other worker finishes it"):
        slow = submit(client, SLOW_JOB)
        owner = wait_for(
            "the slow job running",
            lambda: psql(
                f"SELECT lease_owner FROM training_job WHERE id = '{slow}' AND status = 'running'"
            ),
            120,
            interval=0.5,
        )
        host = owner.split("@", 1)[1].split(":", 1)[0]
        workers = {c["ID"][:12]: c["Name"] for c in services() if c["Service"] == "worker"}
        victim = next(
            name for cid, name in workers.items() if cid.startswith(host) or host.startswith(cid)
        )
        log(f"  job {slow} runs on {victim} ({owner}); docker kill {victim}")
        run(["docker", "kill", victim])
        done = wait_job(client, slow, timeout=420)
        assert done["status"] == "completed", done
        assert done["attempt"] == 2, done
        (survivor,) = set(workers.values()) - {victim}
        logs = subprocess.run(["docker", "logs", survivor], capture_output=True, text=True)
        assert slow in logs.stdout + logs.stderr, f"{survivor} did not run job {slow}"
        state = run(["docker", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", victim])
        log(f"  completed on {survivor}; {victim} is {state.strip()} (status, restarts)")
        events = client.get(f"/v1/training-jobs/{slow}/events").json()
        assert [e["status"] for e in events].count("pending") == 2, events  # submit, requeue

    with step("compose: restart the API; nothing is lost"):
        before = {
            j["job_id"]: j["status"]
            for j in client.get("/v1/training-jobs?limit=100").json()["items"]
        }
        queued = submit(client, README_JOB)
        run([*COMPOSE, "restart", "api"])
        wait_for("the API healthy again", lambda: _ready(client), 180)
        after = {
            j["job_id"]: j["status"]
            for j in client.get("/v1/training-jobs?limit=100").json()["items"]
        }
        assert before.items() <= after.items(), (before, after)
        assert wait_job(client, queued)["status"] == "completed"
    client.close()

    with step("compose: down --volumes; nothing left"):
        volumes = {
            mount["Name"]
            for container in services()
            for mount in json.loads(run(["docker", "inspect", container["ID"]]))[0]["Mounts"]
            if mount["Type"] == "volume"
        }
        run([*COMPOSE, "down", "--volumes", "--remove-orphans"])
        label = f"label=com.docker.compose.project={PROJECT}"
        assert run(["docker", "ps", "--all", "--quiet", "--filter", label]).strip() == ""
        left = set(run(["docker", "volume", "ls", "--quiet"]).split()) & volumes
        assert not left, f"volumes left after down -v: {left}"


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)
