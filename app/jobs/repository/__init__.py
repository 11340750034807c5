"""The one home of job state: every query and write on ``training_job``, ``job_event``,
``trial``. Nothing outside this package issues SQL on those tables.

Services decide, executors run; both persist through ``JobRepository``. A status or stage
change and its event row are one call and one transaction (``changes.change``), so no change
goes unrecorded. A claim bumps ``attempt``, the fencing token: every later write of the
attempt is conditional on ``(id, attempt, status='running')`` (``changes.fence``).
"""

from app.jobs.filters import JobFilter
from app.jobs.lifecycle import PendingLimitReached
from app.jobs.repository.changes import (
    FEED_CHANNEL,
    VERSION_TRIES,
    IdempotencyKeyTaken,
    ModelVersionTaken,
)
from app.jobs.repository.jobs import JobRepository
from app.jobs.repository.pages import Page, Position
from app.jobs.repository.removal import JobNotFinished, Removed
from app.jobs.repository.status import StatusRow

__all__ = [
    "FEED_CHANNEL",
    "VERSION_TRIES",
    "IdempotencyKeyTaken",
    "JobFilter",
    "JobNotFinished",
    "JobRepository",
    "ModelVersionTaken",
    "Page",
    "PendingLimitReached",
    "StatusRow",
    "Position",
    "Removed",
]
