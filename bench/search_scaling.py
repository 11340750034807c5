"""Scaling of one hyperparameter search over slots and workers.

The same 16-trial grid search (RandomForestClassifier on sklearn's digits, 3 folds, each trial
about a second on one core, ``parallel_trials=2``) runs:

- locally (``TRAINYARD_EXECUTOR=local``, SQLite) with ``MAX_CONCURRENT_JOBS`` 1 and then 2;
- with Celery (PostgreSQL and Redis on loopback) with one real ``celery worker`` process
  (threads pool, concurrency 1) and then two.

Each run gets a fresh database. Wall time is submit to completed, as the client sees it; the
ratio of the wider run against the narrower one, measured in the same invocation, is the
figure (the machine is shared and noisy). Run from the repository root:

    .venv/bin/python bench/search_scaling.py --mode local celery
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
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.schemas import TrainingJobRequest  # noqa: E402
from app.service import MLModelTrainingService  # noqa: E402
from tests.fixtures.database import alembic_upgrade  # noqa: E402

SEARCH = {
    "model_name": "scaling",
    "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
    "algorithm_config": {"name": "RandomForestClassifier"},
    "hyperparameter_tuning_config": {
        "strategy": "grid",
        "search_space": {
            "n_estimators": [70, 90],
            "max_depth": [8, 12, 16, None],
            "min_samples_leaf": [1, 2],
        },
        "cv_folds": 3,
        "parallel_trials": 2,
    },
}


async def run_search(service: MLModelTrainingService) -> dict[str, Any]:
    request = TrainingJobRequest.model_validate(SEARCH)
    started = time.perf_counter()
    job = await service.submit_training_job(request)
    while True:
        status = await service.get_training_job_status(job.job_id)
        if status.status.value in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    trials = service.jobs.trials(job.job_id, tenant="")
    timeline = trace(service, job.job_id)
    return {
        "timeline": timeline,
        "status": status.status.value,
        "seconds": elapsed,
        "trials": len(trials),
        "numbers_unique": len({t.number for t in trials}) == len(trials),
        "mean_trial_seconds": sum(t.duration_seconds or 0 for t in trials) / max(1, len(trials)),
        "hosts": Counter(t.worker for t in trials),
        "processes": len({t.worker for t in trials}),
        # Trial-seconds per wall second: how many trials ran at once on average, whatever
        # the speed of each (on a loaded machine two at once each run slower).
        "busy": sum(t.duration_seconds or 0 for t in trials) / elapsed,
    }


def trace(service: MLModelTrainingService, job_id: uuid.UUID) -> dict[str, Any]:
    """Where the run's time went, from the database: the job's stage events, each unit's
    claim (``search_trial.started_at``) and its trial's start and end, per worker."""
    from sqlalchemy import select

    from app.jobs.models import SearchTrial, TrainingJob, Trial

    with service.repository.reader() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        units = {
            u.number: u
            for u in session.scalars(select(SearchTrial).where(SearchTrial.job_id == job_id))
        }
        trials = list(session.scalars(select(Trial).where(Trial.job_id == job_id)))
        created = job.created_at
        claimed = job.started_at
    events = service.jobs.events(job_id, tenant="")
    zero = created

    def at(moment: Any) -> float:
        return round((moment - zero).total_seconds(), 2)

    stages: dict[str, float] = {}
    for event in events:
        stages.setdefault(event.stage.value, at(event.created_at))
    stages["claimed"] = at(claimed)
    rows = []
    for trial in sorted(trials, key=lambda t: t.started_at):
        unit = units.get(trial.number)
        rows.append(
            {
                "number": trial.number,
                "worker": trial.worker,
                "claimed": at(unit.started_at) if unit and unit.started_at else None,
                "started": at(trial.started_at),
                "finished": at(trial.finished_at),
            }
        )
    return {"stages": stages, "trials": rows, "created": created}


def print_trace(row: dict[str, Any]) -> None:
    """The timeline of one run: stages, then per process its trials and the gaps between."""
    timeline = row["timeline"]
    stages = timeline["stages"]
    print(
        f"  {row['label']}: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(stages.items(), key=lambda kv: kv[1]))
    )
    for name, text in row.get("worker_logs", {}).items():
        for line in text.splitlines():
            if "trainyard." in line and ("received" in line or "succeeded" in line):
                print(f"    {name}: {line[:200]}")
    trials = timeline["trials"]
    if not trials:
        return
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for trial in trials:
        by_worker.setdefault(str(trial["worker"]), []).append(trial)
    for worker, mine in by_worker.items():
        busy = sum(t["finished"] - t["started"] for t in mine)
        gaps = [
            b["claimed"] - a["finished"]
            for a, b in zip(mine, mine[1:], strict=False)
            if b["claimed"]
        ]
        starts = [t["started"] - t["claimed"] for t in mine if t["claimed"] is not None]
        print(
            f"    {worker}: {len(mine)} trials, first claimed {mine[0]['claimed']}, "
            f"last finished {mine[-1]['finished']:.2f}, busy {busy:.1f} s, "
            f"claim-to-start {sum(starts) / max(1, len(starts)):.2f} s avg, "
            f"gap to next claim {sum(gaps):.2f} s total"
        )
    first = min(t["claimed"] or t["started"] for t in trials)
    last = max(t["finished"] for t in trials)
    fixed_before = first
    after = stages.get("done", last) - last
    print(
        f"    fixed: submit to first trial claim {fixed_before:.2f} s "
        f"(claim {stages['claimed']:.2f}, tuning stage at {stages.get('tuning', float('nan')):.2f})"
        f", last trial to completed {after:.2f} s (refit to evaluating "
        f"{stages.get('evaluating', last) - last:.2f} s, evaluating to done "
        f"{stages.get('done', last) - stages.get('evaluating', last):.2f} s)"
    )


def local_round(slots: int, work: Path) -> dict[str, Any]:
    database = work / f"local-{slots}-{uuid.uuid4().hex[:6]}.db"
    url = f"sqlite:///{database}"
    alembic_upgrade(url)
    settings = Settings(
        database_url=url,
        executor="local",
        max_concurrent_jobs=slots,
        artifact_root=work / f"artifacts-local-{database.stem}",
        data_roots=[work],
        mlflow_tracking_uri="",
    )
    service = MLModelTrainingService(settings=settings)
    try:
        service.start()
        return {"label": f"local, {slots} slot(s)", **asyncio.run(run_search(service))}
    finally:
        service.close()


def celery_round(workers: int, work: Path, server: str, redis_url: str) -> dict[str, Any]:
    from bench.celery_throughput import create_database, drop_database
    from tests.execution.celery_workers import flush_redis, start_workers

    url = create_database(server)
    flush_redis(redis_url)
    settings = Settings(
        database_url=url,
        executor="celery",
        celery_broker_url=redis_url,
        celery_queue=f"scaling-{uuid.uuid4().hex[:6]}",
        artifact_root=work / f"artifacts-celery-{uuid.uuid4().hex[:6]}",
        data_roots=[work],
        mlflow_tracking_uri="",
    )
    pool = start_workers(settings, work, workers)
    service = MLModelTrainingService(settings=settings)
    try:
        service.start()
        row = {"label": f"celery, {workers} worker(s)", **asyncio.run(run_search(service))}
        row["worker_logs"] = {worker.name: worker.log() for worker in pool}
        return row
    finally:
        service.close()
        for worker in pool:
            worker.stop()
        drop_database(server, url)
        flush_redis(redis_url)


def report(rows: list[dict[str, Any]]) -> None:
    """Rows come in pairs (narrow, wide) of the same round; each wide run is compared with
    the narrow run just before it, and the median of those ratios is the figure."""
    ratios = []
    for narrow, wide in zip(rows[::2], rows[1::2], strict=True):
        ratios.append(wide["seconds"] / narrow["seconds"])
        for row in (narrow, wide):
            print(
                f"| {row['label']} | {row['status']} | {row['trials']} | {row['processes']} | "
                f"{row['mean_trial_seconds']:.2f} | {row['busy']:.2f} | {row['seconds']:.1f} | "
                f"{row['seconds'] / narrow['seconds']:.2f}x |"
            )
    print(f"median ratio wide/narrow over {len(ratios)} round(s): {statistics.median(ratios):.2f}x")
    for row in rows:
        print_trace(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", nargs="+", default=["local", "celery"])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (narrow, wide)")
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
    parser.add_argument(
        "--importance-seconds",
        type=float,
        help="TRAINYARD_EVALUATION_IMPORTANCE_SECONDS for every round (the service default "
        "when not given); 0 leaves the report's permutation importance out of the fixed cost",
    )
    args = parser.parse_args()
    if args.importance_seconds is not None:
        # Through the environment, so the Celery worker processes get it too.
        os.environ["TRAINYARD_EVALUATION_IMPORTANCE_SECONDS"] = str(args.importance_seconds)
    logging.getLogger().setLevel(logging.WARNING)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, cores: {os.cpu_count()}, "
        f"load average at start: {os.getloadavg()}, importance budget: "
        f"{Settings().evaluation_importance_seconds} s"
    )
    print(
        "| run | status | trials | trial processes | mean trial s | trials at once | wall s "
        "| vs narrow |"
    )
    print("|---|---|---|---|---|---|---|---|")
    from app.execution.forkserver import warm_up

    warm_up()  # this process's forkserver, shared by every local round: preloaded first
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if "local" in args.mode:
            report([local_round(n, work) for _ in range(args.repeat) for n in (1, 2)])
        if "celery" in args.mode:
            report(
                [
                    celery_round(n, work, args.postgres_url, args.redis_url)
                    for _ in range(args.repeat)
                    for n in (1, 2)
                ]
            )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
