"""The estimator catalog: every estimator a job may use, with its parameters."""

from __future__ import annotations

from app.algorithms.schemas import AlgorithmList, AlgorithmResponse
from app.core.exceptions import ResourceNotFoundError
from app.trainer import SpecError
from app.trainer.algorithms import get_algorithm


def list_algorithms(*, task: str | None = None) -> AlgorithmList:
    """Every estimator a job may use, with its parameters, types and defaults."""
    from app.trainer.catalog import catalog

    items = [
        AlgorithmResponse.model_validate(entry)
        for entry in catalog()
        if task is None or entry["task"] == task
    ]
    return AlgorithmList(items=items, total=len(items))


def describe_algorithm(name: str) -> AlgorithmResponse:
    from app.trainer.catalog import catalog

    for entry in catalog():
        if entry["name"] == name:
            return AlgorithmResponse.model_validate(entry)
    try:
        get_algorithm(name, field="name")
    except SpecError as exc:
        raise ResourceNotFoundError(exc.message) from None
    raise ResourceNotFoundError(f"unknown algorithm {name!r}")  # pragma: no cover
