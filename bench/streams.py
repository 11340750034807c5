"""200 open event streams on one uvicorn worker while jobs run: what they cost.

Starts the real app under uvicorn (one worker, in this process, so it can count every SQL
statement the server runs with an SQLAlchemy event), starts two long training jobs, then:

1. reference: no stream open; times N status GETs (p50/p99) and counts the server's queries
   per second over a quiet window (the running jobs' supervisors query too);
2. the same with S streams open (a child process holds them: job streams spread over the
   running jobs, plus tenant streams).

The figures that matter are the ratios of (2) to (1), measured in the same run.

    .venv/bin/python bench/streams.py
    .venv/bin/python bench/streams.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.fixtures.database import alembic_upgrade, truncate_postgres  # noqa: E402
from tests.fixtures.network import free_port  # noqa: E402

QUERIES = [0]
LONG_JOB = {
    "model_name": "bench-streams",
    "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
    "algorithm_config": {
        "name": "GradientBoostingClassifier",
        "parameters": {"n_estimators": 5000},
    },
    "resource_config": {"n_jobs": 1},
}


def count(*_: Any) -> None:
    QUERIES[0] += 1


def hold_streams(url: str, paths: list[str], opened: Any, stop: Any, frames: Any) -> None:
    async def one(client: httpx.AsyncClient, path: str) -> None:
        async with client.stream("GET", path) as response:
            async for _ in response.aiter_lines():
                frames.value += 1
                if stop.is_set():
                    return

    async def main() -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        timeout = httpx.Timeout(30, read=None)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
            tasks = [asyncio.create_task(one(client, p)) for p in paths]
            await asyncio.sleep(3)
            opened.set()
            while not stop.is_set():
                await asyncio.sleep(0.2)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def statements(app: Any) -> int:
    """Every statement the server ran: the listener's count, plus the stream hub's
    ``PRAGMA data_version`` checks, which run on a raw connection the listener cannot see."""
    return QUERIES[0] + app.state.streams.hub.commits.checks


def measure(
    http: httpx.Client, app: Any, job_id: str, gets: int, window: float
) -> dict[str, float]:
    times = []
    for _ in range(gets):
        started = time.perf_counter()
        http.get(f"/v1/training-jobs/{job_id}").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    before = statements(app)
    time.sleep(window)
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[int(len(times) * 0.99) - 1],
        "queries_per_s": (statements(app) - before) / window,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--gets", type=int, default=400)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    url = args.database_url or f"sqlite:///{base / 'trainyard.db'}"
    alembic_upgrade(url)
    if args.database_url:
        truncate_postgres(url)
    settings = Settings(
        database_url=url,
        artifact_root=base / "artifacts",
        data_roots=[base],
        mlflow_tracking_uri="",
        max_concurrent_jobs=2,
        max_n_jobs=1,
    )
    event.listen(Engine, "before_cursor_execute", count)
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    address = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=address, timeout=30) as http:
        jobs = [http.post("/v1/training-jobs", json=LONG_JOB).json()["job_id"] for _ in range(2)]
        while any(http.get(f"/v1/training-jobs/{j}").json()["status"] != "running" for j in jobs):
            time.sleep(0.2)
        reference = measure(http, app, jobs[0], args.gets, args.window)
        paths = [
            f"/v1/training-jobs/{jobs[i % 2]}/stream" if i % 4 else "/v1/training-jobs/stream"
            for i in range(args.streams)
        ]
        context = multiprocessing.get_context("spawn")
        opened, stop, frames = context.Event(), context.Event(), context.Value("l", 0)
        holder = context.Process(target=hold_streams, args=(address, paths, opened, stop, frames))
        holder.start()
        opened.wait(60)
        loaded = measure(http, app, jobs[0], args.gets, args.window)
        stop.set()
        holder.join(30)
        for job_id in jobs:
            http.post(f"/v1/training-jobs/{job_id}/cancel")
    server.should_exit = True
    backend = url.split(":", 1)[0]
    print(f"backend {backend}, {args.streams} streams, {args.gets} GETs, {args.window}s windows")
    print(f"{'':24}{'no streams':>12}{'streams':>12}{'ratio':>8}")
    for key in ("p50_ms", "p99_ms", "queries_per_s"):
        ratio = loaded[key] / reference[key] if reference[key] else float("nan")
        print(f"{key:24}{reference[key]:12.2f}{loaded[key]:12.2f}{ratio:8.2f}")
    extra = loaded["queries_per_s"] - reference["queries_per_s"]
    print(f"queries/s added by the streams: {extra:.2f}; frames read: {frames.value}")


if __name__ == "__main__":
    main()
