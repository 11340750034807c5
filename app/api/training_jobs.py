"""Training jobs: submit, inspect, list, cancel, events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from app.api.deps import ServiceDep
from app.lifecycle import JobStatus
from app.schemas import (
    JobEventResponse,
    Problem,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
)

router = APIRouter(prefix="/v1/training-jobs", tags=["training jobs"])

PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No job with this id", **PROBLEM}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "The request is invalid; `errors` names each field", **PROBLEM}
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **INVALID,
        400: {"description": "The body could not be parsed", **PROBLEM},
        409: {"description": "Idempotency-Key reused with another body", **PROBLEM},
    },
)
async def submit_training_job(
    request: TrainingJobRequest,
    service: ServiceDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255, min_length=1)] = None,
) -> TrainingJobStatusResponse:
    """Submit a training job; it runs in the background. Poll the `Location` for its status."""
    job = await service.submit_training_job(request, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/v1/training-jobs/{job.job_id}"
    return job


@router.get("", responses=INVALID)
async def list_training_jobs(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # the largest OFFSET SQL takes
    status: JobStatus | None = None,
    model_name: Annotated[str | None, Query(max_length=128)] = None,
    experiment_name: Annotated[str | None, Query(max_length=256)] = None,
) -> TrainingJobList:
    """List training jobs, newest first."""
    return await service.search_training_jobs(
        limit=limit,
        offset=offset,
        status=status,
        model_name=model_name,
        experiment_name=experiment_name,
    )


@router.get("/{job_id}", responses={**NOT_FOUND, **INVALID})
async def get_training_job(job_id: uuid.UUID, service: ServiceDep) -> TrainingJobStatusResponse:
    """The status of one training job."""
    return await service.get_training_job_status(job_id)


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, **INVALID, 409: {"description": "The job already finished", **PROBLEM}},
)
async def cancel_training_job(job_id: uuid.UUID, service: ServiceDep) -> TrainingJobStatusResponse:
    """Cancel a pending job at once, or stop a running one (within about a second)."""
    return await service.cancel_training_job(job_id)


@router.get("/{job_id}/events", responses={**NOT_FOUND, **INVALID})
async def list_job_events(job_id: uuid.UUID, service: ServiceDep) -> list[JobEventResponse]:
    """Every status and stage transition of the job, oldest first."""
    return await service.get_training_job_events(job_id)


@router.get("/{job_id}/trials", responses={**NOT_FOUND, **INVALID})
async def list_job_trials(job_id: uuid.UUID, service: ServiceDep) -> list[TrialResponse]:
    """The hyperparameter-search trials of the job's latest attempt, as they finish."""
    return await service.get_training_job_trials(job_id)
