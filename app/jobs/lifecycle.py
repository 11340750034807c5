"""The job lifecycle: statuses, stages, and where progress stands at the start of each stage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobStage(StrEnum):
    QUEUED = "queued"
    FETCHING_DATA = "fetching_data"
    PREPROCESSING = "preprocessing"
    TRAINING = "training"
    TUNING = "tuning"
    EVALUATING = "evaluating"
    STORING_ARTIFACTS = "storing_artifacts"
    REGISTERING = "registering"
    DONE = "done"


# Progress (0-100) reached when a stage starts; training/tuning fill the span up to evaluating.
STAGE_PROGRESS: dict[JobStage, float] = {
    JobStage.QUEUED: 0.0,
    JobStage.FETCHING_DATA: 2.0,
    JobStage.PREPROCESSING: 10.0,
    JobStage.TRAINING: 15.0,
    JobStage.TUNING: 15.0,
    JobStage.EVALUATING: 85.0,
    JobStage.STORING_ARTIFACTS: 90.0,
    JobStage.REGISTERING: 95.0,
    JobStage.DONE: 100.0,
}


class AttemptOutcome(StrEnum):
    """How one attempt ended, as its supervisor saw it."""

    RECORDED = "recorded"  # the training process recorded its own terminal state
    CANCELLED = "cancelled"
    DEADLINE = "deadline"
    REQUEUED = "requeued"  # given back to the queue for another attempt
    FAILED = "failed"  # lost, and no attempts left
    LOST = "lost"  # another claim (reaper, cancel) already owns the outcome


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    attempt: int
    max_attempts: int
    deadline_at: datetime
    max_runtime_seconds: int
    # The job asks for a hyperparameter search (its trials may take the other slots).
    search: bool = False


@dataclass(frozen=True)
class StageEntry:
    """A stage a running attempt entered, and when: held by the attempt for a moment, then
    written with the next write of the job as an event of its own time and order."""

    stage: JobStage
    progress: float
    message: str | None
    at: datetime


@dataclass(frozen=True)
class RunState:
    """What the supervisor reads on each poll."""

    cancel_requested: bool


@dataclass(frozen=True)
class Reaped:
    """A running attempt the reaper took back: what became of its job, and the registry run
    the attempt had started (which nobody else will end)."""

    job_id: uuid.UUID
    attempt: int
    outcome: AttemptOutcome
    registry_run_id: str | None


class PendingLimitReached(Exception):
    """The tenant has as many pending jobs as it may (the repository refuses one more)."""

    def __init__(self, pending: int) -> None:
        super().__init__(pending)
        self.pending = pending
