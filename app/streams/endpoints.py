"""Server-sent event streams: one job's, and all of a tenant's jobs'."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from app.core import sse
from app.core.deps import TenantDep
from app.core.problems import PROBLEM_RESPONSE as PROBLEM
from app.core.problems import UNAUTHENTICATED
from app.jobs.filters import JobFilter
from app.jobs.lifecycle import JobStatus
from app.streams.service import StreamService


async def get_streams(request: Request) -> StreamService:
    streams: StreamService = request.app.state.streams
    return streams


StreamsDep = Annotated[StreamService, Depends(get_streams)]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=128,
        description="The `id` of the last frame received: the stream resumes after it.",
    ),
]
STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "Frames `status`, `event`, `trial`, `log` (and `ready`), each with an `id`",
    },
    422: {"description": "A malformed id or filter; `errors` names it", **PROBLEM},
}

router = APIRouter(prefix="/v1/training-jobs", tags=["streams"], responses=UNAUTHENTICATED)


def _response(frames: Any) -> StreamingResponse:
    return StreamingResponse(frames, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.get("/stream", response_class=StreamingResponse, responses=STREAM)
async def stream_training_jobs(
    streams: StreamsDep,
    tenant: TenantDep,
    last_event_id: LastEventId = None,
    status: JobStatus | None = None,
    model_name: Annotated[str | None, Query(max_length=128)] = None,
    experiment_name: Annotated[str | None, Query(max_length=256)] = None,
) -> StreamingResponse:
    """Every event, trial and status change of the tenant's jobs (filters as in the list), as
    server-sent events; it does not end. `Last-Event-ID` resumes without a gap or a repeat."""
    where = JobFilter(tenant, status, model_name, experiment_name)
    return _response(await streams.tenant_stream(where, last_event_id=last_event_id))


@router.get(
    "/{job_id}/stream",
    response_class=StreamingResponse,
    responses={**STREAM, 404: {"description": "No job with this id", **PROBLEM}},
)
async def stream_training_job(
    job_id: uuid.UUID, streams: StreamsDep, tenant: TenantDep, last_event_id: LastEventId = None
) -> StreamingResponse:
    """The job's status, events, trials and new log lines as server-sent events, ending after
    the terminal status. `Last-Event-ID` resumes without a gap or a repeat."""
    frames = await streams.job_stream(job_id, tenant=tenant, last_event_id=last_event_id)
    return _response(frames)
