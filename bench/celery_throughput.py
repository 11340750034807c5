"""Throughput of the celery executor: N small jobs with one worker process, then with two.

Needs PostgreSQL and Redis on loopback. Each round gets a fresh database (migrated with
alembic) and a flushed Redis DB, starts real `celery worker` processes (threads pool, one job
at a time each), submits the jobs through MLModelTrainingService, and waits until every job
is terminal. Run from the repository root:

    .venv/bin/python bench/celery_throughput.py --jobs 100 --workers 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.config import Settings  # noqa: E402
from app.jobs.models import TrainingJob  # noqa: E402
from app.schemas import TrainingJobRequest  # noqa: E402
from app.service import MLModelTrainingService  # noqa: E402
from tests.execution.celery_workers import flush_redis, start_workers  # noqa: E402
from tests.fixtures.database import alembic_upgrade  # noqa: E402

SMALL_JOB = {
    "model_name": "bench",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {"name": "RandomForestClassifier", "parameters": {"n_estimators": 20}},
}


def create_database(server: str) -> str:
    name = f"trainyard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    alembic_upgrade(url)
    return url


def drop_database(server: str, url: str) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


async def submit_and_wait(service: MLModelTrainingService, jobs: int) -> float:
    request = TrainingJobRequest.model_validate(SMALL_JOB)
    started = time.perf_counter()
    for _ in range(jobs):
        await service.submit_training_job(request)
    while True:
        with service.repository.factory() as session:
            done = session.scalar(
                select(func.count())
                .select_from(TrainingJob)
                .where(TrainingJob.status.in_(("completed", "failed", "cancelled")))
            )
        if done == jobs:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)


def run_round(server: str, redis_url: str, jobs: int, workers: int, work: Path) -> dict[str, float]:
    url = create_database(server)
    flush_redis(redis_url)
    settings = Settings(
        database_url=url,
        executor="celery",
        celery_broker_url=redis_url,
        celery_queue=f"bench-{uuid.uuid4().hex[:6]}",
        artifact_root=work / f"artifacts-{workers}",
        data_roots=[work],
        mlflow_tracking_uri="",
        max_n_jobs=1,
    )
    pool = start_workers(settings, work, workers)
    service = MLModelTrainingService(settings=settings)
    try:
        service.start()
        elapsed = asyncio.run(submit_and_wait(service, jobs))
        with service.repository.factory() as session:
            rows = session.execute(
                select(
                    TrainingJob.status,
                    TrainingJob.attempt,
                    TrainingJob.created_at,
                    TrainingJob.started_at,
                    TrainingJob.completed_at,
                )
            ).all()
    finally:
        service.close()
        for worker in pool:
            worker.stop()
        drop_database(server, url)
        flush_redis(redis_url)
    completed = [r for r in rows if r.status == "completed"]
    latency = sorted((r.completed_at - r.created_at).total_seconds() for r in completed)
    run = [(r.completed_at - r.started_at).total_seconds() for r in completed]
    return {
        "workers": workers,
        "jobs": jobs,
        "completed": len(completed),
        "retried": sum(r.attempt > 1 for r in rows),
        "seconds": elapsed,
        "jobs_per_second": jobs / elapsed,
        "median_run_seconds": statistics.median(run),
        "median_latency_seconds": statistics.median(latency),
        "p95_latency_seconds": latency[int(0.95 * (len(latency) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TRAINYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TRAINYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.workers:
            result = run_round(args.postgres_url, args.redis_url, args.jobs, count, Path(folder))
            print(
                f"{result['workers']} worker(s): {result['completed']}/{result['jobs']} completed "
                f"({result['retried']} retried) in {result['seconds']:.1f} s = "
                f"{result['jobs_per_second']:.2f} jobs/s; per job: median run "
                f"{result['median_run_seconds']:.2f} s, median submit-to-done "
                f"{result['median_latency_seconds']:.1f} s, "
                f"p95 {result['p95_latency_seconds']:.1f} s"
            )


if __name__ == "__main__":
    main()
