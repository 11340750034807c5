"""Training jobs: submit, inspect, list, cancel, events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from app.core.deps import TenantDep, request_tenant
from app.core.problems import PROBLEM_RESPONSE as PROBLEM
from app.core.problems import UNAUTHENTICATED
from app.core.routing import DirectPath, direct_route
from app.jobs.lifecycle import JobStatus
from app.jobs.schemas import (
    EvaluationReport,
    JobEventResponse,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
    ValidationReport,
)
from app.jobs.service import JobService

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No job with this id", **PROBLEM}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "The request is invalid; `errors` names each field", **PROBLEM}
}


async def get_jobs(request: Request) -> JobService:
    jobs: JobService = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobService, Depends(get_jobs)]

router = APIRouter(prefix="/v1/training-jobs", tags=["training jobs"], responses=UNAUTHENTICATED)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **INVALID,
        400: {"description": "The body could not be parsed", **PROBLEM},
        409: {
            "description": "Idempotency-Key reused with another body, or the given "
            "model_version is taken",
            **PROBLEM,
        },
        413: {"description": "The body is over TRAINYARD_MAX_REQUEST_BYTES", **PROBLEM},
        429: {"description": "Too many pending jobs; see Retry-After", **PROBLEM},
    },
)
def submit_training_job(
    request: TrainingJobRequest,
    jobs: JobsDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255, min_length=1)] = None,
) -> TrainingJobStatusResponse:
    """Submit a training job; it runs in the background. Poll the `Location` for its status."""
    job = jobs.submit(request, idempotency_key=idempotency_key, tenant=tenant)
    response.headers["Location"] = f"/v1/training-jobs/{job.job_id}"
    return job


@router.get("", responses=INVALID)
def list_training_jobs(
    jobs: JobsDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Skip this many (slower the deeper).")
    ] = 0,
    page_token: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=512,
            description="The `next_page_token` of the previous page: the page after it, at "
            "any depth in constant time, stable while jobs are added.",
        ),
    ] = None,
    include_total: Annotated[
        bool, Query(description="Count every job that matches (a scan: slow on big tables).")
    ] = False,
    status: JobStatus | None = None,
    model_name: Annotated[str | None, Query(max_length=128)] = None,
    experiment_name: Annotated[str | None, Query(max_length=256)] = None,
) -> TrainingJobList:
    """List training jobs, newest first; follow `next_page_token` for the next page."""
    return jobs.search(
        limit=limit,
        offset=offset,
        page_token=page_token,
        include_total=include_total,
        status=status,
        model_name=model_name,
        experiment_name=experiment_name,
        tenant=tenant,
    )


async def _status_response(jobs: JobService, job_id: uuid.UUID, tenant: str) -> Response:
    # The hot path: read on the event loop (one indexed row on a pool of its own; awaited on
    # PostgreSQL) and encoded here once; FastAPI would validate the model again.
    body = await jobs.read_status_json(job_id, tenant=tenant)
    return Response(body, media_type="application/json")


async def get_training_job(job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep) -> Response:
    """The status of one training job."""
    return await _status_response(jobs, job_id, tenant)


async def serve_status(request: Request) -> Response | None:
    """``get_training_job`` without FastAPI's dependency solving, for a job id in the canonical
    form (36 characters, lower or upper case); any other id goes to FastAPI's validation."""
    raw: str = request.path_params["job_id"]
    if len(raw) != 36:
        return None
    try:
        job_id = uuid.UUID(raw)
    except ValueError:
        return None
    if str(job_id) != raw.lower():
        return None
    return await _status_response(await get_jobs(request), job_id, await request_tenant(request))


# Polled by every client: served by ``serve_status`` first (see app.core.routing), before
# the application's routing when the app installs ``DIRECT_PATHS``.
DIRECT_PATHS = (DirectPath("GET", f"{router.prefix}/{{job_id}}", serve_status),)
router.add_api_route(
    "/{job_id}",
    get_training_job,
    methods=["GET"],
    response_model=TrainingJobStatusResponse,
    responses={**NOT_FOUND, **INVALID},
    route_class_override=direct_route(serve_status),
)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **NOT_FOUND,
        **INVALID,
        409: {"description": "The job is pending or running", **PROBLEM},
    },
)
def delete_training_job(job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep) -> Response:
    """Delete a finished job: its record, events, trials, model, logs; its registry run is
    marked deleted. A pending or running job is refused (cancel it first)."""
    jobs.delete(job_id, tenant=tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, **INVALID, 409: {"description": "The job already finished", **PROBLEM}},
)
def cancel_training_job(
    job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep
) -> TrainingJobStatusResponse:
    """Cancel a pending job at once, or stop a running one (within about a second)."""
    return jobs.cancel(job_id, tenant=tenant)


@router.get("/{job_id}/events", responses={**NOT_FOUND, **INVALID})
def list_job_events(job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep) -> list[JobEventResponse]:
    """Every status and stage transition of the job, oldest first."""
    return jobs.events(job_id, tenant=tenant)


@router.get("/{job_id}/trials", responses={**NOT_FOUND, **INVALID})
def list_job_trials(job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep) -> list[TrialResponse]:
    """The hyperparameter-search trials of the job's latest attempt, as they finish."""
    return jobs.trials(job_id, tenant=tenant)


@router.get(
    "/{job_id}/evaluation",
    responses={
        404: {
            "description": "No job with this id, or a completed job trained before reports existed",
            **PROBLEM,
        },
        409: {"description": "The job has not completed", **PROBLEM},
        **INVALID,
    },
)
def get_job_evaluation(job_id: uuid.UUID, jobs: JobsDep, tenant: TenantDep) -> EvaluationReport:
    """The evaluation report of a completed job on its validation split: confusion matrix,
    per-class metrics, ROC, precision-recall and calibration curves (classification), predicted
    against actual and residuals (regression), permutation importance of the input columns."""
    return jobs.evaluation(job_id, tenant=tenant)


@router.get(
    "/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The attempts' logs"},
        **NOT_FOUND,
        **INVALID,
    },
)
def get_job_logs(
    job_id: uuid.UUID,
    jobs: JobsDep,
    tenant: TenantDep,
    attempt: Annotated[int | None, Query(ge=1, description="Only this attempt's log.")] = None,
) -> PlainTextResponse:
    """The log of each attempt (the traceback when it failed), oldest first; empty while queued."""
    text = jobs.logs(job_id, attempt=attempt, tenant=tenant)
    return PlainTextResponse(text)


@router.post(
    "/validate",
    responses={
        **INVALID,
        400: {"description": "The body could not be parsed", **PROBLEM},
        413: {"description": "The body is over TRAINYARD_MAX_REQUEST_BYTES", **PROBLEM},
    },
)
def validate_training_job(
    request: TrainingJobRequest, jobs: JobsDep, tenant: TenantDep
) -> ValidationReport:
    """Dry run: check the request and read the data; returns the resolved job and a profile."""
    return jobs.dry_run(request, tenant=tenant)
