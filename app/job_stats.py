"""Job statistics computed from the database at the moment they are asked for.

Several processes write job rows (the API, training processes, Celery workers), so counting
in any one of them would be wrong; the table is the truth, and one query per figure reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.lifecycle import JobStatus
from app.models import TrainingJob

QUEUE_WAIT_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
RUN_DURATION_BUCKETS: tuple[float, ...] = (
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    21600,
    86400,
)


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound, like Prometheus wants them."""

    buckets: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    sum: float


@dataclass(frozen=True)
class JobStatistics:
    jobs_by_status: dict[str, int]
    queue_wait: Histogram
    # Terminal status -> run duration of the jobs that ended so.
    run_duration: dict[str, Histogram] = field(default_factory=dict)


def seconds_between(engine: Engine, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, as SQL for this database."""
    if engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _histogram_columns(value: Any, buckets: tuple[float, ...]) -> list[Any]:
    return [
        func.count(),
        func.coalesce(func.sum(value), 0.0),
        *(func.coalesce(func.sum(case((value <= bound, 1), else_=0)), 0) for bound in buckets),
    ]


def _histogram(row: Any, buckets: tuple[float, ...]) -> Histogram:
    count, total, *cumulative = row
    return Histogram(buckets, tuple(int(c) for c in cumulative), int(count), float(total))


def collect(engine: Engine, factory: sessionmaker[Session]) -> JobStatistics:
    with factory() as session:
        by_status = {status.value: 0 for status in JobStatus}
        for status, count in session.execute(
            select(TrainingJob.status, func.count()).group_by(TrainingJob.status)
        ):
            by_status[status] = int(count)

        # Queue wait of the latest claim: submitted (or requeued) until started.
        wait = seconds_between(engine, TrainingJob.started_at, TrainingJob.created_at)
        row = session.execute(
            select(*_histogram_columns(wait, QUEUE_WAIT_BUCKETS)).where(
                TrainingJob.started_at.is_not(None)
            )
        ).one()
        queue_wait = _histogram(row, QUEUE_WAIT_BUCKETS)

        run = seconds_between(engine, TrainingJob.completed_at, TrainingJob.started_at)
        durations: dict[str, Histogram] = {}
        for row in session.execute(
            select(TrainingJob.status, *_histogram_columns(run, RUN_DURATION_BUCKETS))
            .where(TrainingJob.started_at.is_not(None), TrainingJob.completed_at.is_not(None))
            .group_by(TrainingJob.status)
        ):
            durations[row[0]] = _histogram(row[1:], RUN_DURATION_BUCKETS)
    return JobStatistics(by_status, queue_wait, durations)
