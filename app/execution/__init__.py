"""Running jobs outside the request: the supervisor, the local executor and the Celery one."""

from __future__ import annotations

import uuid
from typing import Protocol


class Executor(Protocol):
    """What the service needs from an executor."""

    def start(self) -> None: ...

    def notify(self, job_id: uuid.UUID | None = None) -> None:
        """A job was committed as pending (called after the commit, never before)."""

    def stop(self, grace_seconds: float) -> None: ...

    @property
    def alive(self) -> bool: ...
