"""The job tally (``job_tally``): counts by status and the duration histograms, kept up to date
by every change of a job in the transaction of that change, so /metrics reads a few rows.

Several processes write jobs (the API, training processes, Celery workers), so no process can
count in memory; each change adds its difference to the rows instead, with one
``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` (SQLite and PostgreSQL), which loses
no update however many writers there are. Rows are touched in key order, so two transactions
that move jobs in opposite directions (a claim and a requeue) cannot deadlock on them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.jobs import stats
from app.jobs.lifecycle import JobStatus
from app.jobs.models import JobTally, TrainingJob

JOBS = "jobs"
QUEUE_WAIT = "queue_wait"
RUN_DURATION = "run_duration"

# What a change must know of a job, before and after, to move its tally.
FACT_COLUMNS = (
    TrainingJob.id,
    TrainingJob.tenant,
    TrainingJob.status,
    TrainingJob.created_at,
    TrainingJob.started_at,
    TrainingJob.completed_at,
)
# The same, as the table's columns (a Core select of them skips the ORM's compile path).
FACT_TABLE_COLUMNS = tuple(TrainingJob.__table__.c[column.key] for column in FACT_COLUMNS)
# The values whose change moves a job's tally; other changes (progress, stage) skip it.
TALLIED = frozenset({"status", "created_at", "started_at", "completed_at"})

Key = tuple[str, str, str, int]


@dataclass
class Deltas:
    """Differences to add to tally rows, by key ``(kind, tenant, status, bucket)``."""

    rows: dict[Key, list[float]]

    def __init__(self) -> None:
        self.rows = {}

    def add(self, job: Any, sign: int) -> None:
        """Count ``job`` (a row with ``FACT_COLUMNS``) in (``sign=1``) or out (``-1``)."""
        for key, seconds in contributions(job):
            entry = self.rows.setdefault(key, [0.0, 0.0])
            entry[0] += sign
            entry[1] += sign * seconds

    def move(self, before: Any, after: Any) -> None:
        self.add(before, -1)
        self.add(after, 1)

    def apply(self, session: Session | Connection) -> None:
        changed = [
            {"kind": k[0], "tenant": k[1], "status": k[2], "bucket": k[3], "n": int(n), "total": t}
            for k, (n, t) in sorted(self.rows.items())
            if n != 0 or t != 0.0
        ]
        if changed:
            session.execute(_upsert(session), changed)
        self.rows = {}


@cache
def pending_count() -> Any:
    """The tenant's (``tenant``) pending jobs, from its tally row (one primary-key read)."""
    table = JobTally.__table__
    return select(table.c.n).where(
        table.c.kind == JOBS,
        table.c.tenant == bindparam("tenant"),
        table.c.status == JobStatus.PENDING.value,
        table.c.bucket == 0,
    )


def _upsert(session: Session | Connection) -> Any:
    bind = session.get_bind() if isinstance(session, Session) else session
    return _build_upsert(bind.dialect.name)


@cache  # built once per dialect: building the statement costs more CPU than running it
def _build_upsert(name: str) -> Any:
    dialect = postgresql if name == "postgresql" else sqlite
    table = JobTally.__table__
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["kind", "tenant", "status", "bucket"],
        set_={
            "n": table.c.n + statement.excluded.n,
            "total": table.c.total + statement.excluded.total,
        },
    )


def bucket_of(seconds: float, bounds: tuple[float, ...]) -> int:
    """The first bound ``seconds`` does not exceed (``len(bounds)``: above them all)."""
    return bisect_left(bounds, seconds)


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def contributions(job: Any) -> Iterable[tuple[Key, float]]:
    """Where one job counts: its status, its latest queue wait, its run once it ended."""
    yield (JOBS, job.tenant, job.status, 0), 0.0
    if job.started_at is not None:
        wait = _seconds(job.started_at, job.created_at)
        yield (QUEUE_WAIT, "", "", bucket_of(wait, stats.QUEUE_WAIT_BUCKETS)), wait
        if job.completed_at is not None:
            run = _seconds(job.completed_at, job.started_at)
            bucket = bucket_of(run, stats.RUN_DURATION_BUCKETS)
            yield (RUN_DURATION, "", job.status, bucket), run


def read(session: Session) -> stats.JobStatistics:
    """The statistics from the tally rows (a few dozen, however many jobs there are)."""
    by_status = {status.value: 0 for status in JobStatus}
    waits: dict[int, tuple[int, float]] = {}
    runs: dict[str, dict[int, tuple[int, float]]] = {}
    for row in session.execute(select(JobTally).where(JobTally.n != 0)).scalars():
        if row.kind == JOBS:
            by_status[row.status] = by_status.get(row.status, 0) + row.n
        elif row.kind == QUEUE_WAIT:
            waits[row.bucket] = (row.n, row.total)
        elif row.kind == RUN_DURATION:
            runs.setdefault(row.status, {})[row.bucket] = (row.n, row.total)
    return stats.JobStatistics(
        by_status,
        _histogram(waits, stats.QUEUE_WAIT_BUCKETS),
        {status: _histogram(b, stats.RUN_DURATION_BUCKETS) for status, b in sorted(runs.items())},
    )


def _histogram(buckets: dict[int, tuple[int, float]], bounds: tuple[float, ...]) -> stats.Histogram:
    cumulative, running = [], 0
    for index in range(len(bounds)):
        running += buckets.get(index, (0, 0.0))[0]
        cumulative.append(running)
    count = sum(n for n, _ in buckets.values())
    total = sum(t for _, t in buckets.values())
    return stats.Histogram(bounds, tuple(cumulative), count, max(total, 0.0))


def _bucket_expression(value: Any, bounds: tuple[float, ...]) -> Any:
    return case(*((value <= bound, index) for index, bound in enumerate(bounds)), else_=len(bounds))


def recount(connection: Connection) -> None:
    """Rebuild the tally from the job table in one pass of SQL per kind (the migration's
    backfill, and a repair): run it where nothing else writes jobs, or in a transaction that
    blocks them."""
    dialect = connection.dialect.name
    job = TrainingJob.__table__
    connection.execute(delete(JobTally))
    counts = select(
        literal(JOBS), job.c.tenant, job.c.status, literal(0), func.count(), literal(0.0)
    ).group_by(job.c.tenant, job.c.status)
    wait = stats.seconds_between(dialect, job.c.started_at, job.c.created_at)
    waits = (
        select(
            _bucket_expression(wait, stats.QUEUE_WAIT_BUCKETS).label("bucket"),
            wait.label("seconds"),
        )
        .where(job.c.started_at.is_not(None))
        .subquery()
    )
    run = stats.seconds_between(dialect, job.c.completed_at, job.c.started_at)
    runs = (
        select(
            job.c.status,
            _bucket_expression(run, stats.RUN_DURATION_BUCKETS).label("bucket"),
            run.label("seconds"),
        )
        .where(job.c.started_at.is_not(None), job.c.completed_at.is_not(None))
        .subquery()
    )
    queries = [
        counts,
        select(
            literal(QUEUE_WAIT),
            literal(""),
            literal(""),
            waits.c.bucket,
            func.count(),
            func.sum(waits.c.seconds),
        ).group_by(waits.c.bucket),
        select(
            literal(RUN_DURATION),
            literal(""),
            runs.c.status,
            runs.c.bucket,
            func.count(),
            func.sum(runs.c.seconds),
        ).group_by(runs.c.status, runs.c.bucket),
    ]
    names = ["kind", "tenant", "status", "bucket", "n", "total"]
    for query in queries:
        connection.execute(insert(JobTally).from_select(names, query))
