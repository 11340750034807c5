"""The list filters of jobs (a tenant's, by status, model, experiment) as SQL conditions,
for the repository's queries; the streams apply the same filters to their rows in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.jobs.lifecycle import JobStatus
from app.jobs.models import TrainingJob


@dataclass(frozen=True)
class JobFilter:
    tenant: str
    status: JobStatus | None = None
    model_name: str | None = None
    experiment_name: str | None = None

    def conditions(self) -> list[Any]:
        found = [TrainingJob.tenant == self.tenant]
        if self.status is not None:
            found.append(TrainingJob.status == self.status.value)
        if self.model_name is not None:
            found.append(TrainingJob.model_name == self.model_name)
        if self.experiment_name is not None:
            found.append(TrainingJob.experiment_name == self.experiment_name)
        return found

    def matches(
        self, *, tenant: str, status: str, model_name: str, experiment_name: str | None
    ) -> bool:
        """The same test as ``conditions``, on values already read."""
        return (
            tenant == self.tenant
            and (self.status is None or status == self.status.value)
            and (self.model_name is None or model_name == self.model_name)
            and (self.experiment_name is None or experiment_name == self.experiment_name)
        )
