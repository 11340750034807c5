"""Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import ServiceDep, guard_metrics
from app.metrics import HttpMetrics, render

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(guard_metrics)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"},
        401: {"description": "TRAINYARD_METRICS_REQUIRE_KEY is on and no valid key was sent"},
    },
)
async def metrics(request: Request, service: ServiceDep) -> Response:
    """Prometheus metrics: jobs by status, queue wait, run duration, HTTP requests."""
    stats = await service.get_job_statistics()
    http: HttpMetrics = request.app.state.http_metrics
    return Response(render(http, stats), media_type=CONTENT_TYPE_LATEST)
