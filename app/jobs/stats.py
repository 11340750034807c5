"""Job statistics: their shapes, buckets and the SQL expressions that compute them.

Several processes write job rows (the API, training processes, Celery workers), so counting
in any one of them would be wrong; the table is the truth, and the repository reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func

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


def seconds_between(dialect: str, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, as SQL for this database."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def histogram_columns(value: Any, buckets: tuple[float, ...]) -> list[Any]:
    return [
        func.count(),
        func.coalesce(func.sum(value), 0.0),
        *(func.coalesce(func.sum(case((value <= bound, 1), else_=0)), 0) for bound in buckets),
    ]


def histogram(row: Any, buckets: tuple[float, ...]) -> Histogram:
    count, total, *cumulative = row
    return Histogram(buckets, tuple(int(c) for c in cumulative), int(count), float(total))
