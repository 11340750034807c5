"""Running jobs outside the request: the supervisor, the local executor and the Celery one.

Execution persists through ``app.jobs.repository`` and never calls a domain service.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.config import Settings
    from app.execution.payload import AttemptPayload
    from app.jobs.repository import JobRepository


class Executor(Protocol):
    """What the service needs from an executor."""

    def start(self) -> None: ...

    def notify(self, job_id: uuid.UUID | None = None) -> None:
        """A job was committed as pending (called after the commit, never before)."""

    def stop(self, grace_seconds: float) -> None: ...

    @property
    def alive(self) -> bool: ...


def build_executor(
    repository: JobRepository, payload: AttemptPayload, settings: Settings
) -> Executor:
    """The executor ``TRAINYARD_EXECUTOR`` names: ``local`` slots or ``celery`` workers."""
    if settings.executor == "celery":
        from app.execution.celery_executor import CeleryExecutor

        return CeleryExecutor.from_settings(repository, settings, payload.model_registry_client)
    from app.execution.local import LocalExecutor

    return LocalExecutor(
        repository,
        payload,
        max_concurrent_jobs=settings.max_concurrent_jobs,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval_seconds,
        reaper_interval=settings.reaper_interval_seconds,
        spare_processes=settings.spare_processes,
    )
