"""The job tables as Core sees them, and the statements of the hot writes and reads, built once.

The repository's hot paths run Core statements on the tables, not ORM-enabled ones: an ORM
UPDATE or INSERT through the session pays for the ORM's bulk-persistence and unit-of-work
paths, and an ORM load for the identity map and instance state, which none of them needs
(they read back what they return and hold no mapped objects); that was about half of a job's
repository CPU. Building a statement costs more CPU than running it, so each is built here,
once, with bind parameters.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, insert, literal, select

from app.jobs.models import JobEvent, TrainingJob
from app.jobs.repository import tally

JOBS = cast(Table, TrainingJob.__table__)
EVENTS = cast(Table, JobEvent.__table__)

# Each mapped attribute's column (``registry_info`` is the column ``registry``), and each column
# of the table, in order, as its attribute.
COLUMN = {attribute.key: attribute.columns[0] for attribute in TrainingJob.__mapper__.column_attrs}
_ATTRIBUTE = {column.key: name for name, column in COLUMN.items()}
ATTRIBUTES = tuple(_ATTRIBUTE[column.key] for column in JOBS.columns)

INSERT_JOB = insert(JOBS)
INSERT_EVENTS = insert(EVENTS)
JOB_BY_ID = select(JOBS).where(JOBS.c.id == bindparam("job_id"))

_OF_MODEL = (JOBS.c.tenant == bindparam("tenant")) & (JOBS.c.model_name == bindparam("model"))
_NEWEST_VERSION = (
    select(JOBS.c.model_version)
    .where(_OF_MODEL)
    .order_by(JOBS.c.created_at.desc(), JOBS.c.id.desc())
    .limit(1)
)
_VERSION_COUNT = select(func.count()).select_from(JOBS).where(_OF_MODEL)
_PENDING = tally.pending_count().scalar_subquery()
_SUBMIT_FACTS = {
    True: select(_PENDING, _NEWEST_VERSION.scalar_subquery()),
    False: select(_PENDING, literal(None, String)),
}


def column_keys(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` by mapped attribute name, keyed by the table's column names instead."""
    return {COLUMN[name].key: value for name, value in values.items()}


def job_of(row: Any) -> TrainingJob:
    """A transient ``TrainingJob`` of a row of ``JOBS``' columns."""
    return TrainingJob(**{name: row[index] for index, name in enumerate(ATTRIBUTES)})


def submit_facts(session: Any, tenant: str, model_name: str, *, version: bool) -> tuple[int, int]:
    """What a submit must know before its insert, in one read: the tenant's pending jobs (its
    tally row, however many jobs wait) and, when ``version``, how far the tenant's model's
    automatic versions have come (0 otherwise). That is the newest job's number (one read on
    the tenant-model-time index, however many versions there are), or, when the newest was
    given a version of its own that is not a number, the count of its jobs. A number a
    concurrent submit took first is retried above (``JobRepository.create_job``)."""
    key = {"tenant": tenant, "model": model_name}
    pending, newest = session.execute(_SUBMIT_FACTS[version], key).one()
    if newest is None:
        return int(pending or 0), 0
    if newest.isdigit():
        return int(pending or 0), int(newest)
    return int(pending or 0), int(session.execute(_VERSION_COUNT, key).scalar() or 0)
