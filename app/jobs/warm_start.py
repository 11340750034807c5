"""Warm starts: which earlier jobs may seed a search, checked at submit.

A search may import the finished trials of earlier jobs of the same tenant when their scores
mean the same thing: same algorithm, same searched parameter names, same objective and number
of folds, same target, and the same data (fingerprint of what was read). Anything else is a
422 naming the entry of ``warm_start_from`` that does not fit.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.core.exceptions import ConfigurationError
from app.jobs.models import TrainingJob
from app.jobs.repository import JobRepository

FIELD = "hyperparameter_tuning_config.warm_start_from"


def _tuning(request: dict[str, Any]) -> dict[str, Any]:
    return request.get("hyperparameter_tuning_config") or {}


def incompatibility(new: dict[str, Any], old: TrainingJob) -> str | None:
    """Why ``old`` cannot seed a search of request ``new`` (None: it can)."""
    if old.status != "completed":
        return f"job {old.id} is {old.status}; only a completed job's trials are imported"
    before = old.request
    if before.get("algorithm_config", {}).get("name") != new["algorithm_config"]["name"]:
        return f"job {old.id} trained {before.get('algorithm_config', {}).get('name')}"
    then, now = _tuning(before), _tuning(new)
    if not then:
        return f"job {old.id} ran no search"
    if set(then.get("search_space", {})) != set(now["search_space"]):
        return (
            f"job {old.id} searched {sorted(then.get('search_space', {}))}, "
            f"not {sorted(now['search_space'])}"
        )
    for name in ("objective_metric", "cv_folds"):
        if then.get(name) != now.get(name):
            return f"job {old.id} used {name}={then.get(name)!r}, not {now.get(name)!r}"
    target = new["data_source_config"]["target_column"]
    if before.get("data_source_config", {}).get("target_column") != target:
        return f"job {old.id} predicted another target column"
    return None


def check_sources(
    repository: JobRepository, request: dict[str, Any], tenant: str, fingerprint: Any
) -> list[TrainingJob]:
    """The jobs ``warm_start_from`` names, each checked; ``fingerprint()`` reads the new
    job's data (only when there is something to compare)."""
    ids: list[Any] = _tuning(request).get("warm_start_from") or []
    jobs: list[TrainingJob] = []
    current: str | None = None
    for index, raw in enumerate(ids):
        where = f"{FIELD}[{index}]"
        job = repository.get_job(uuid.UUID(str(raw)), tenant=tenant)
        if job is None:
            raise ConfigurationError.for_field(where, f"no training job {raw} of this tenant")
        why = incompatibility(request, job)
        if why is None:
            old = (job.data_lineage or {}).get("fingerprint")
            current = current or fingerprint()
            if old != current:
                why = f"job {job.id} trained on other data (fingerprint {old}, now {current})"
        if why is not None:
            raise ConfigurationError.for_field(where, why)
        jobs.append(job)
    return jobs
