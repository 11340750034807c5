"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from app.core.deps import guard_metrics
from app.operations.metrics import HttpMetrics, render
from app.operations.readiness import storage_checks
from app.service import MLModelTrainingService


async def get_service(request: Request) -> MLModelTrainingService:
    service: MLModelTrainingService = request.app.state.service
    return service


ServiceDep = Annotated[MLModelTrainingService, Depends(get_service)]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when the database answers, the executor runs, and the artifact root and a
    local model registry store are writable."""
    checks: dict[str, str] = {}
    try:
        service.repository.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["executor"] = "ok" if service.executor_alive else "not running"
    checks |= storage_checks(service.settings, service.model_registry_client)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


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
    stats = await asyncio.to_thread(service.repository.statistics)
    http: HttpMetrics = request.app.state.http_metrics
    return Response(render(http, stats), media_type=CONTENT_TYPE_LATEST)
