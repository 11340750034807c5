"""ORM tables. The ``training_job`` row is the single source of truth for a job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.core.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps them as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TrainingJob(Base):
    __tablename__ = "training_job"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_training_job_tenant_idem_key"),
        UniqueConstraint(
            "tenant", "model_name", "model_version", name="uq_training_job_tenant_model_version"
        ),
        # The list's sort order is (created_at, id) descending; each filter of the list has an
        # index that starts with the tenant and the filter and ends with that order, so a page
        # (first or past a cursor) reads only the rows it returns.
        Index("ix_training_job_tenant_created_at_id", "tenant", "created_at", "id"),
        Index(
            "ix_training_job_tenant_status_created_at_id", "tenant", "status", "created_at", "id"
        ),
        Index(
            "ix_training_job_tenant_model_created_at_id", "tenant", "model_name", "created_at", "id"
        ),
        Index(
            "ix_training_job_tenant_experiment_created_at_id",
            "tenant",
            "experiment_name",
            "created_at",
            "id",
        ),
        Index("ix_training_job_status_created_at", "status", "created_at"),
        Index("ix_training_job_created_at", "created_at"),
        Index("ix_training_job_updated_at", "updated_at"),
        Index("ix_training_job_completed_at", "completed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(128))
    experiment_name: Mapped[str | None] = mapped_column(String(256))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_hash: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(128), default="", server_default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))

    status: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    message: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[float | None] = mapped_column(Float)

    metrics: Mapped[dict[str, float] | None] = mapped_column(JSON)
    best_hyperparameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifacts_location: Mapped[str | None] = mapped_column(Text)
    registry_info: Mapped[dict[str, Any] | None] = mapped_column("registry", JSON)
    data_lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    error_type: Mapped[str | None] = mapped_column(String(128))
    error_stage: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)

    # Execution: attempt is the fencing token, bumped by every claim.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    max_runtime_seconds: Mapped[int] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The dry run's time estimate, stored at submit; ``actual`` is added beside it at the end.
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# What a search records of each trial, as the trainer reports it.
TRIAL_FIELDS = (
    "number",
    "params",
    "mean_score",
    "std_score",
    "fold_scores",
    "state",
    "error",
    "resource",
    "duration_seconds",
)


class Trial(Base):
    """One candidate of a hyperparameter search, written as soon as it finishes."""

    __tablename__ = "trial"
    __table_args__ = (UniqueConstraint("job_id", "attempt", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("training_job.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    mean_score: Mapped[float | None] = mapped_column(Float)
    std_score: Mapped[float | None] = mapped_column(Float)
    fold_scores: Mapped[list[float]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    resource: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where it ran ("host:pid") and where it came from: "search", or "warm_start" (imported).
    worker: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="search", server_default="search")


class SearchTrial(Base):
    """A unit of search work: one candidate waiting, claimed or done.

    Any free slot of any worker claims a ``pending`` row with a conditional UPDATE that bumps
    ``claim`` (the trial's fencing token) and sets a lease; the result is written once, fenced
    by that claim, as a ``trial`` row in the same transaction (``state`` becomes ``done``).
    A lease that expires puts the row back to ``pending`` under the same number.
    """

    __tablename__ = "search_trial"
    __table_args__ = (
        UniqueConstraint("job_id", "number", name="uq_search_trial_job_number"),
        Index("ix_search_trial_state_job", "state", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("training_job.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    rung: Mapped[int] = mapped_column(Integer, default=0)
    resource: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    claim: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobEvent(Base):
    """One status or stage transition of a job, like SageMaker's SecondaryStatusTransitions."""

    __tablename__ = "job_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("training_job.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float)
    attempt: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)


class JobTally(Base):
    """Running counts of the job table for /metrics, changed in the transaction of each change.

    ``kind`` ``jobs``: jobs of ``tenant`` in ``status`` (``bucket`` 0, ``total`` unused).
    ``queue_wait`` / ``run_duration``: the jobs whose latest wait or run falls in histogram
    ``bucket`` (the index of the first upper bound it does not exceed; one past the last is
    +Inf) and the sum of their seconds; ``run_duration`` by final ``status``, both with
    ``tenant`` empty. A scrape reads these few rows instead of scanning the jobs.
    """

    __tablename__ = "job_tally"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
