"""Algorithm discovery: the estimators a job may use, and their parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.api.deps import ServiceDep
from app.schemas import AlgorithmList, AlgorithmResponse, TaskType

router = APIRouter(prefix="/v1/algorithms", tags=["algorithms"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get("", responses={422: {"description": "Unknown task", **PROBLEM}})
async def list_algorithms(
    service: ServiceDep,
    task: Annotated[TaskType | None, Query(description="Only this kind of model.")] = None,
) -> AlgorithmList:
    """Every estimator a training job may use: framework, task, parameters and defaults."""
    return await service.list_algorithms(task=task)


@router.get("/{name}", responses={404: {"description": "No such algorithm", **PROBLEM}})
async def get_algorithm(
    service: ServiceDep,
    name: Annotated[str, Path(max_length=128, examples=["RandomForestClassifier"])],
) -> AlgorithmResponse:
    """One estimator: its parameters with types, defaults and scikit-learn's constraints."""
    return await service.get_algorithm(name)
