"""Algorithm discovery: the estimators a job may use, and their parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.algorithms import service
from app.algorithms.schemas import AlgorithmList, AlgorithmResponse
from app.jobs.schemas import TaskType

router = APIRouter(prefix="/v1/algorithms", tags=["algorithms"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get("", responses={422: {"description": "Unknown task", **PROBLEM}})
def list_algorithms(
    task: Annotated[TaskType | None, Query(description="Only this kind of model.")] = None,
) -> AlgorithmList:
    """Every estimator a training job may use: framework, task, parameters and defaults."""
    return service.list_algorithms(task=task)


@router.get("/{name}", responses={404: {"description": "No such algorithm", **PROBLEM}})
def get_algorithm(
    name: Annotated[str, Path(max_length=128, examples=["RandomForestClassifier"])],
) -> AlgorithmResponse:
    """One estimator: its parameters with types, defaults and scikit-learn's constraints."""
    return service.describe_algorithm(name)
