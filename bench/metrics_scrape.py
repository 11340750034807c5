"""How long a /metrics scrape spends reading job statistics from the database.

Fills a fresh database with N finished and waiting jobs, rebuilds the job tally from them, then
times ``JobRepository.statistics`` (the query work of one scrape: it reads the tally) and the
Prometheus rendering, best of R runs.

    .venv/bin/python bench/metrics_scrape.py --jobs 10000 100000
    .venv/bin/python bench/metrics_scrape.py --jobs 100000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from app.core.db import create_db_engine
from app.jobs.models import TrainingJob
from app.jobs.repository import JobRepository
from app.operations.metrics import HttpMetrics, render

ROOT = Path(__file__).resolve().parents[1]


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def fresh_database(base: str | None, tmp: Path) -> str:
    if base is None:
        return f"sqlite:///{tmp / 'bench.db'}"
    name = f"trainyard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def drop(base: str | None, url: str) -> None:
    if base is None:
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def fill(url: str, count: int) -> None:
    rng = random.Random(0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = create_db_engine(url)
    statuses = ["completed"] * 80 + ["failed"] * 10 + ["cancelled"] * 5 + ["pending"] * 5
    rows = []
    for i in range(count):
        status = rng.choice(statuses)
        created = start + timedelta(seconds=i * 7)
        started = (
            created + timedelta(seconds=rng.expovariate(1 / 3)) if status != "pending" else None
        )
        ended = (
            started + timedelta(seconds=rng.expovariate(1 / 40)) if started is not None else None
        )
        rows.append(
            {
                "id": uuid.uuid4(),
                "model_name": f"model-{i % 50}",
                "model_version": str(i),
                "algorithm": "RandomForestClassifier",
                "tags": {},
                "request": {},
                "request_hash": "0" * 64,
                "status": status,
                "stage": "done" if status == "completed" else "queued",
                "progress": 100.0 if status == "completed" else 0.0,
                "attempt": 1,
                "max_attempts": 2,
                "max_runtime_seconds": 3600,
                "cancel_requested": False,
                "created_at": created,
                "updated_at": ended or created,
                "started_at": started,
                "completed_at": ended,
            }
        )
    with engine.begin() as connection:
        for offset in range(0, len(rows), 5000):
            connection.execute(insert(TrainingJob), rows[offset : offset + 5000])
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite file)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.jobs:
            url = fresh_database(args.database_url, Path(tmp) / str(count))
            (Path(tmp) / str(count)).mkdir(exist_ok=True)
            try:
                migrate(url)
                fill(url, count)
                engine = create_db_engine(url)
                repository = JobRepository(engine)
                repository.recount()  # the bulk insert bypassed the tally; rebuild it once
                http = HttpMetrics()
                collect_times, render_times = [], []
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    stats = repository.statistics()
                    collect_times.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    body = render(http, stats)
                    render_times.append(time.perf_counter() - began)
                engine.dispose()
                assert sum(stats.jobs_by_status.values()) == count
                best = min(collect_times) * 1000
                median = sorted(collect_times)[len(collect_times) // 2] * 1000
                print(
                    f"{engine.dialect.name:10} jobs={count:>7}  collect best {best:7.1f} ms"
                    f"  median {median:7.1f} ms"
                    f"  render {min(render_times) * 1000:5.2f} ms  ({len(body)} bytes)"
                )
            finally:
                drop(args.database_url, url)


if __name__ == "__main__":
    main()
