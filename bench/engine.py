"""Job-engine benchmark: per-job overhead, throughput, and API latency under load.

Runs a real server (uvicorn subprocess) on a fresh, migrated database and measures:
1. overhead of one tiny job (submit -> completed, polled every 5 ms) against the same
   training done in this process with ``app.trainer.train``;
2. jobs per second for N tiny jobs submitted at once, with p50/p99 of GET status meanwhile;
3. p50/p99/max of GET /v1/training-jobs while a ~20-second training runs.

    .venv/bin/python bench/engine.py                       # SQLite file in a temp folder
    .venv/bin/python bench/engine.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = {
    "model_name": "tiny",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {"name": "DecisionTreeClassifier", "parameters": {"max_depth": 3}},
}
LONG = {
    "model_name": "long",
    "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
    "algorithm_config": {"name": "GradientBoostingClassifier", "parameters": {"n_estimators": 0}},
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrate(url: str) -> None:
    env = {**os.environ, "TRAINYARD_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        if names:  # every table the migrations made (jobs, webhooks, ...) and their version
            connection.execute(text(f"DROP TABLE IF EXISTS {names} CASCADE"))
    engine.dispose()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def run_job(
    client: httpx.Client, body: dict[str, Any], poll: float = 0.005
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
    while True:
        status = client.get(f"/v1/training-jobs/{job_id}").json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return time.perf_counter() - started, status
        time.sleep(poll)


def count(client: httpx.Client, status: str) -> int:
    """How many jobs have ``status`` (the total is asked for: a page does not count)."""
    params = {"status": status, "limit": 1, "include_total": "true"}
    total: int = client.get("/v1/training-jobs", params=params).json()["total"]
    return total


def in_process_fit(repeats: int) -> list[float]:
    from app.integrations.data_layer import LocalDataLayerClient
    from app.schemas import DataSourceConfig
    from app.trainer import TrainingSpec, train

    frame = (
        LocalDataLayerClient([ROOT])
        .fetch(DataSourceConfig(path="sklearn://iris", target_column="target"))
        .frame
    )
    spec = TrainingSpec(
        algorithm="DecisionTreeClassifier", target_column="target", parameters={"max_depth": 3}
    )
    train(spec, frame)  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        train(spec, frame)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--tiny", type=int, default=30, help="tiny jobs run one at a time")
    parser.add_argument("--jobs", type=int, default=1000, help="tiny jobs submitted at once")
    parser.add_argument(
        "--long-estimators",
        type=int,
        default=250,
        help="GradientBoosting stages of the long job (about 20 s here)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="trainyard-bench-"))
    url = args.database_url or f"sqlite:///{work}/bench.db"
    if url.startswith("postgresql"):
        reset_postgres(url)
    migrate(url)
    port = free_port()
    env = {
        "TRAINYARD_DATABASE_URL": url,
        "TRAINYARD_ARTIFACT_ROOT": str(work / "artifacts"),
        "TRAINYARD_DATA_ROOTS": str(work),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
    }
    server = start_server(env, port)
    print(
        f"database: {url.split('@')[-1]}; cores: {os.cpu_count()}; "
        f"load average: {os.getloadavg()[0]:.2f}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            run_job(client, TINY)  # warm the server and the forkserver
            walls = []
            for _ in range(args.tiny):
                wall, status = run_job(client, TINY)
                assert status["status"] == "completed", status
                walls.append(wall)
            local = in_process_fit(args.tiny)
            overhead = statistics.median(walls) - statistics.median(local)
            print(
                f"tiny job, submit -> completed: median {statistics.median(walls) * 1000:.0f} ms, "
                f"p90 {percentile(walls, 90) * 1000:.0f} ms ({args.tiny} jobs one at a time)"
            )
            print(f"same training in process:      median {statistics.median(local) * 1000:.1f} ms")
            print(f"overhead per job:              median {overhead * 1000:.0f} ms")

            # Throughput, with GET status latency measured meanwhile.
            latencies: list[float] = []
            stop = threading.Event()
            probe_id = client.post("/v1/training-jobs", json=TINY).json()["job_id"]

            def probe() -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as other:
                    while not stop.is_set():
                        started = time.perf_counter()
                        other.get(f"/v1/training-jobs/{probe_id}")
                        latencies.append(time.perf_counter() - started)
                        time.sleep(0.01)

            prober = threading.Thread(target=probe)
            prober.start()
            started = time.perf_counter()
            ids = [
                client.post("/v1/training-jobs", json=TINY).json()["job_id"]
                for _ in range(args.jobs)
            ]
            submitted = time.perf_counter() - started
            while count(client, "completed") < args.jobs + args.tiny + 2:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            stop.set()
            prober.join()
            failed = count(client, "failed")
            print(
                f"{args.jobs} tiny jobs: submitted in {submitted:.2f} s, all completed in "
                f"{elapsed:.2f} s = {args.jobs / elapsed:.1f} jobs/s ({failed} failed)"
            )
            print(
                f"GET status under that load: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 99) * 1000:.1f} ms ({len(latencies)} requests)"
            )
            del ids

            # List latency while a long training runs.
            body = {
                **LONG,
                "algorithm_config": {
                    **LONG["algorithm_config"],
                    "parameters": {"n_estimators": args.long_estimators},
                },
            }
            job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
            while client.get(f"/v1/training-jobs/{job_id}").json()["status"] == "pending":
                time.sleep(0.05)
            listing: list[float] = []
            started = time.perf_counter()
            while client.get(f"/v1/training-jobs/{job_id}").json()["status"] == "running":
                t0 = time.perf_counter()
                client.get("/v1/training-jobs", params={"limit": 100})
                listing.append(time.perf_counter() - t0)
                time.sleep(0.05)
            trained = time.perf_counter() - started
            print(
                f"GET /v1/training-jobs (100 items) during a {trained:.1f} s training: "
                f"p50 {percentile(listing, 50) * 1000:.1f} ms, "
                f"p99 {percentile(listing, 99) * 1000:.1f} ms, "
                f"max {max(listing) * 1000:.1f} ms ({len(listing)} requests)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
