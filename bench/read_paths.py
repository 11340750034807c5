"""Reads that must not grow with the table: list pages and the /metrics scrape at N jobs.

Grows the job table to N finished jobs (default 1,000,000) with a bulk ``executemany`` straight
into the database, rebuilds the tally from it (what the migration's backfill does), starts a
real uvicorn server on it, and times, over keep-alive HTTP one request at a time:
the first page of 20, a page past a cursor half-way down, ``offset=500000`` for contrast, the
``status`` and ``experiment_name`` filters, the count (``include_total``), and a /metrics
scrape. The reference is ``GET /healthz`` of the same server in the same run.

    .venv/bin/python bench/read_paths.py                      # SQLite file in a temp folder
    .venv/bin/python bench/read_paths.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/t_speedreads

With PostgreSQL the database named is emptied first and after (``--keep`` leaves the table,
``--reuse`` measures a table an earlier ``--keep`` run left).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import free_port, migrate, percentile, start_server  # noqa: E402

from app.core.db import create_db_engine  # noqa: E402
from app.jobs import pagination  # noqa: E402
from app.jobs.filters import JobFilter  # noqa: E402
from app.jobs.lifecycle import JobStatus  # noqa: E402
from app.jobs.models import TrainingJob  # noqa: E402
from app.jobs.repository import JobRepository, Position  # noqa: E402

CHUNK = 10_000
EXPERIMENTS = 100
STATUSES = ["completed"] * 85 + ["failed"] * 10 + ["cancelled"] * 5


def reset_postgres(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def rows(start: int, count: int, origin: datetime) -> list[dict[str, Any]]:
    """Finished jobs ``start`` .. ``start + count``, a second apart, oldest first."""
    rng = random.Random(start)
    made = []
    for i in range(start, start + count):
        status = rng.choice(STATUSES)
        created = origin + timedelta(seconds=i)
        started = created + timedelta(seconds=rng.expovariate(1 / 2))
        ended = started + timedelta(seconds=rng.expovariate(1 / 30))
        made.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "model_name": f"model-{i % 50}",
                "model_version": str(i),
                "algorithm": "RandomForestClassifier",
                "experiment_name": f"exp-{i % EXPERIMENTS}",
                "tags": {},
                "request": {},
                "request_hash": "0" * 64,
                "tenant": "",
                "status": status,
                "stage": "done" if status == "completed" else "training",
                "progress": 100.0 if status == "completed" else 50.0,
                "metrics": {"validation_accuracy": 0.9} if status == "completed" else None,
                "attempt": 1,
                "max_attempts": 2,
                "max_runtime_seconds": 3600,
                "cancel_requested": status == "cancelled",
                "created_at": created,
                "updated_at": ended,
                "started_at": started,
                "completed_at": ended,
            }
        )
    return made


def fill(url: str, count: int) -> float:
    """Insert ``count`` finished jobs in chunks of ``CHUNK``; seconds it took."""
    engine = create_db_engine(url)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    for start in range(0, count, CHUNK):
        with engine.begin() as connection:
            connection.execute(
                insert(TrainingJob.__table__), rows(start, min(CHUNK, count - start), origin)
            )
        if start and start % (CHUNK * 20) == 0:
            print(f"  {start:,} jobs in {time.perf_counter() - began:.0f} s", flush=True)
    took = time.perf_counter() - began
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("VACUUM ANALYZE training_job"))
        else:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return took


def deep_tokens(url: str, depth: int) -> dict[str, str]:
    """Tokens for pages that start ``depth`` jobs down (all jobs, and failed jobs only): the
    token the client would hold after walking that far, made from the job at that depth."""
    engine = create_db_engine(url)
    tokens = {}
    order = (TrainingJob.created_at.desc(), TrainingJob.id.desc())
    with engine.connect() as connection:
        for name, where in (
            ("all", JobFilter("")),
            ("failed", JobFilter("", status=JobStatus.FAILED)),
        ):
            row = connection.execute(
                select(TrainingJob.created_at, TrainingJob.id)
                .where(*where.conditions())
                .order_by(*order)
                .offset(depth if name == "all" else depth // 10)
                .limit(1)
            ).one()
            tokens[name] = pagination.encode(Position(row.created_at, row.id), where)
    engine.dispose()
    return tokens


def timed(client: httpx.Client, path: str, params: dict[str, Any], repeat: int) -> list[float]:
    for _ in range(min(3, repeat)):
        assert client.get(path, params=params).status_code == 200
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite file)")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per read")
    parser.add_argument("--keep", action="store_true", help="leave the table when done")
    parser.add_argument("--reuse", action="store_true", help="measure the table left by --keep")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trainyard-reads-"))
    url = args.database_url or f"sqlite:///{work}/reads.db"
    postgres = url.startswith("postgresql")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}")
    if not args.reuse:
        if postgres:
            reset_postgres(url)
        migrate(url)
        print(f"filling {args.jobs:,} finished jobs into {url.split('@')[-1]}", flush=True)
        took = fill(url, args.jobs)
        print(f"filled in {took:.0f} s ({args.jobs / took:,.0f} jobs/s)")
    engine = create_db_engine(url)
    with engine.connect() as connection:
        present = int(connection.scalar(select(func.count()).select_from(TrainingJob)) or 0)
    began = time.perf_counter()
    JobRepository(engine).recount()
    print(f"{present:,} jobs; tally rebuilt from them in {time.perf_counter() - began:.1f} s")
    engine.dispose()
    depth = min(500_000, present // 2)
    tokens = deep_tokens(url, depth)
    port = free_port()
    server = start_server(
        {
            "TRAINYARD_DATABASE_URL": url,
            "TRAINYARD_ARTIFACT_ROOT": str(work / "artifacts"),
            "TRAINYARD_DATA_ROOTS": str(work),
            "TRAINYARD_MLFLOW_TRACKING_URI": "",
            "TRAINYARD_LOG_LEVEL": "WARNING",
        },
        port,
    )
    few = max(3, args.repeat // 40)
    reads: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET /healthz (reference)", "/healthz", {}, args.repeat),
        ("first page of 20", "/v1/training-jobs", {"limit": 20}, args.repeat),
        (
            f"page of 20 past a cursor {depth:,} down",
            "/v1/training-jobs",
            {"limit": 20, "page_token": tokens["all"]},
            args.repeat,
        ),
        (f"offset={depth:,} (contrast)", "/v1/training-jobs", {"limit": 20, "offset": depth}, few),
        (
            "status=failed, first page",
            "/v1/training-jobs",
            {"limit": 20, "status": "failed"},
            args.repeat,
        ),
        (
            f"status=failed past a cursor {depth // 10:,} down",
            "/v1/training-jobs",
            {"limit": 20, "status": "failed", "page_token": tokens["failed"]},
            args.repeat,
        ),
        (
            "experiment_name=exp-7, first page",
            "/v1/training-jobs",
            {"limit": 20, "experiment_name": "exp-7"},
            args.repeat,
        ),
        (
            "first page with include_total=true (contrast)",
            "/v1/training-jobs",
            {"limit": 20, "include_total": "true"},
            few,
        ),
        ("GET /metrics (scrape)", "/metrics", {}, args.repeat),
    ]
    results = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for name, path, params, repeat in reads:
                times = timed(client, path, params, repeat)
                results.append((name, times))
                print(f"  {name}: median {statistics.median(times) * 1000:.1f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    reference = statistics.median(results[0][1])
    backend = "PostgreSQL" if postgres else "SQLite"
    print(
        f"\n{backend}, {present:,} jobs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {os.getloadavg()}"
    )
    print("| read | requests | median | p99 | median / healthz |")
    print("|---|---:|---:|---:|---:|")
    for name, times in results:
        median = statistics.median(times)
        print(
            f"| {name} | {len(times)} | {median * 1000:.1f} ms | "
            f"{percentile(times, 99) * 1000:.1f} ms | {median / reference:.1f}x |"
        )
    if postgres and not args.keep:
        reset_postgres(url)
        print("dropped the bench's tables")


if __name__ == "__main__":
    main()
