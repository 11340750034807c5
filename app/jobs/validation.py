"""Every check cheap enough to make before a job is accepted, one small function each.

Each check returns the problems it found as ``FieldError``s naming the field, so one submit
reports every problem at once; ``validate_request`` runs them all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.core.exceptions import ConfigurationError, FieldError
from app.integrations.data_layer import DataLayerClientInterface, SourceCheck
from app.jobs.schemas import TrainingJobRequest
from app.trainer import SpecError
from app.trainer.algorithms import AlgorithmInfo, build_estimator, get_algorithm
from app.trainer.tuning import check_search as check_search_space


@dataclass(frozen=True)
class ValidatedRequest:
    request: TrainingJobRequest
    algorithm: AlgorithmInfo
    source: SourceCheck
    max_runtime_seconds: int


def check_algorithm(request: TrainingJobRequest) -> AlgorithmInfo:
    """The estimator exists, suits the task asked for, and takes these parameters."""
    config = request.algorithm_config
    algorithm = get_algorithm(config.name)
    if config.task and config.task != algorithm.task:
        raise SpecError(
            "algorithm_config.task",
            f"{algorithm.name} is a {algorithm.task} model, not {config.task}",
        )
    try:
        key: tuple[str, str] | None = (
            algorithm.name,
            json.dumps(config.parameters, sort_keys=True),
        )
    except (TypeError, ValueError):  # not JSON (the Python service's callers): checked each time
        key = None
    if key is None or key not in _ACCEPTED:
        build_estimator(algorithm, dict(config.parameters))
        if key is not None:
            if len(_ACCEPTED) >= ACCEPTED_KEPT:
                _ACCEPTED.clear()
            _ACCEPTED.add(key)
    return algorithm


# Algorithms and parameters (as canonical JSON) whose estimator was built and validated: a
# burst of the same job builds it once. Only acceptances are kept; a refusal raises each time.
ACCEPTED_KEPT = 1024
_ACCEPTED: set[tuple[str, str]] = set()


def check_search(request: TrainingJobRequest, algorithm: AlgorithmInfo, max_fits: int) -> None:
    tuning = request.hyperparameter_tuning_config
    if tuning is not None:
        check_search_space(
            tuning.model_dump(mode="json"), algorithm, algorithm.task, max_fits=max_fits
        )


def _over_cap(field: str, name: str, value: Any, cap: float) -> FieldError | None:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, list):
            found = _over_cap(field, name, item, cap)
            if found is not None:
                return found
        elif isinstance(item, int | float) and not isinstance(item, bool) and item > cap:
            return FieldError(
                field, f"{name}={item} is over the limit of {cap:g} (TRAINYARD_PARAMETER_CAPS)"
            )
    return None


def check_parameter_caps(request: TrainingJobRequest, caps: dict[str, float]) -> list[FieldError]:
    """Parameters (and search ranges) past the caps that bound the work of one fit."""
    found: list[FieldError | None] = []
    for name, value in request.algorithm_config.parameters.items():
        if name in caps:
            found.append(_over_cap(f"algorithm_config.parameters.{name}", name, value, caps[name]))
    tuning = request.hyperparameter_tuning_config
    if tuning is not None:
        for name, dimension in tuning.model_dump(mode="json")["search_space"].items():
            if name in caps:
                if isinstance(dimension, dict):
                    dimension = dimension.get("choices", dimension.get("high"))
                field = f"hyperparameter_tuning_config.search_space.{name}"
                found.append(_over_cap(field, name, dimension, caps[name]))
    return [error for error in found if error is not None]


def check_resources(
    request: TrainingJobRequest, settings: Settings
) -> tuple[int, list[FieldError]]:
    """The runtime the job gets, and whether what it asks is within the limits."""
    errors: list[FieldError] = []
    runtime = settings.default_max_runtime_seconds
    resources = request.resource_config
    if resources is None:
        return runtime, errors
    limit = settings.max_runtime_seconds_limit
    if resources.max_runtime_seconds is not None:
        runtime = resources.max_runtime_seconds
        if runtime > limit:
            errors.append(
                FieldError(
                    "resource_config.max_runtime_seconds",
                    f"{runtime} is over the limit of {limit} seconds",
                )
            )
    memory = resources.memory_limit_mb
    if memory is not None and memory > settings.max_memory_limit_mb:
        errors.append(
            FieldError(
                "resource_config.memory_limit_mb",
                f"{memory} is over the limit of {settings.max_memory_limit_mb} MiB",
            )
        )
    return runtime, errors


def readable_by(location: str, tenant: str, data_roots: Sequence[str | Path]) -> bool:
    """Uploads are per tenant: with API keys on, another tenant's upload is not there."""
    if not tenant:
        return True
    path = Path(location)
    for root in data_roots:
        uploads = Path(root).expanduser().resolve() / "uploads"
        if path.is_relative_to(uploads) and not path.is_relative_to(uploads / tenant):
            return False
    return True


def check_source(
    request: TrainingJobRequest,
    client: DataLayerClientInterface,
    *,
    tenant: str,
    data_roots: Sequence[str | Path],
) -> tuple[SourceCheck | None, list[FieldError]]:
    """The data source is allowed, there, and readable by this tenant."""
    try:
        source = client.check_source(request.data_source_config)
    except ConfigurationError as exc:
        return None, exc.errors or [FieldError("data_source_config", exc.message)]
    if not readable_by(source.location, tenant, data_roots):
        path = request.data_source_config.path
        return None, [FieldError("data_source_config.path", f"no such file: {path!r}")]
    return source, []


def check_columns(request: TrainingJobRequest, source: SourceCheck) -> list[FieldError]:
    """The target and feature columns are in the file, where its header tells."""
    if source.columns is None:
        return []
    config = request.data_source_config
    errors = []
    for column in [*(config.feature_columns or []), config.target_column]:
        if column not in source.columns:
            where = (
                "data_source_config.target_column"
                if column == config.target_column
                else "data_source_config.feature_columns"
            )
            errors.append(
                FieldError(
                    where,
                    f"column {column!r} is not in {config.path} "
                    f"(columns: {', '.join(source.columns[:50])})",
                )
            )
    return errors


def validate_request(
    request: TrainingJobRequest,
    *,
    settings: Settings,
    data_client: DataLayerClientInterface,
    tenant: str,
) -> ValidatedRequest:
    """Run every check; one ``ConfigurationError`` lists all the problems found."""
    errors: list[FieldError] = []
    algorithm: AlgorithmInfo | None = None
    try:
        algorithm = check_algorithm(request)
        errors.extend(check_parameter_caps(request, settings.parameter_caps))
        check_search(request, algorithm, settings.max_search_fits)
    except SpecError as exc:
        errors.append(FieldError(exc.field, exc.message))
    runtime, problems = check_resources(request, settings)
    errors.extend(problems)
    source, problems = check_source(
        request, data_client, tenant=tenant, data_roots=settings.data_roots
    )
    errors.extend(problems)
    if source is not None:
        errors.extend(check_columns(request, source))
    if errors:
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ConfigurationError(summary, errors=errors)
    assert algorithm is not None
    assert source is not None
    return ValidatedRequest(request, algorithm, source, runtime)
