"""From a validated request to what the trainer runs: the ``TrainingSpec``, and JSON helpers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.config import Settings
from app.jobs.schemas import TrainingJobRequest
from app.trainer import TrainingSpec
from app.trainer.importance import ImportanceBudget
from app.trainer.preprocessing import PreprocessingSpec


def request_hash(request: TrainingJobRequest) -> str:
    """A digest of the request body, to tell an idempotent replay from a different request."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve_n_jobs(request: TrainingJobRequest, settings: Settings) -> tuple[int, dict[str, Any]]:
    """The worker threads of a fit, within ``TRAINYARD_MAX_N_JOBS``, and the estimator
    parameters without ``n_jobs`` (the trainer sets it)."""
    resources = request.resource_config
    n_jobs = resources.n_jobs if resources and resources.n_jobs is not None else 1
    if n_jobs == -1 or n_jobs > settings.max_n_jobs:
        n_jobs = settings.max_n_jobs
    parameters = dict(request.algorithm_config.parameters)
    requested = parameters.get("n_jobs")
    if isinstance(requested, int) and not isinstance(requested, bool):
        del parameters["n_jobs"]
        n_jobs = settings.max_n_jobs if requested == -1 else min(requested, settings.max_n_jobs)
    return n_jobs, parameters


def training_spec(request: TrainingJobRequest, settings: Settings) -> TrainingSpec:
    n_jobs, parameters = resolve_n_jobs(request, settings)
    tuning = request.hyperparameter_tuning_config
    tuning_spec = tuning.model_dump(mode="json") if tuning is not None else None
    if tuning_spec is not None:
        tuning_spec["parallel_trials"] = min(tuning_spec["parallel_trials"], settings.max_n_jobs)
    return TrainingSpec(
        algorithm=request.algorithm_config.name,
        parameters=parameters,
        target_column=request.data_source_config.target_column,
        feature_columns=request.data_source_config.feature_columns,
        task=request.algorithm_config.task,
        test_size=request.evaluation_config.test_size,
        random_state=request.evaluation_config.random_state,
        stratify=request.evaluation_config.stratify,
        n_jobs=n_jobs,
        preprocessing=preprocessing_spec(request),
        tuning=tuning_spec,
        importance=ImportanceBudget(
            seconds=settings.evaluation_importance_seconds,
            max_rows=settings.evaluation_importance_rows,
        ),
    )


def preprocessing_spec(request: TrainingJobRequest) -> PreprocessingSpec:
    config = request.preprocessing
    if config is None:
        return PreprocessingSpec()
    return PreprocessingSpec(**config.model_dump())


def requested_columns(request: TrainingJobRequest) -> list[str] | None:
    """The columns to read: the features and the target, or None for every column."""
    source = request.data_source_config
    if source.feature_columns is None:
        return None
    return [*source.feature_columns, source.target_column]


def jsonable(values: dict[str, Any] | None) -> dict[str, Any]:
    """JSON-ready values (numpy scalars as numbers, sequences as lists, objects by repr)."""
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = value
        elif hasattr(value, "item"):
            out[key] = value.item()
        elif isinstance(value, list | tuple):
            out[key] = [v.item() if hasattr(v, "item") else v for v in value]
        elif isinstance(value, dict):
            out[key] = jsonable(value)
        else:
            out[key] = repr(value)
    return out
