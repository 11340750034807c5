"""Trained models: download the saved pipeline, predict with it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.deps import ServiceDep, TenantDep
from app.api.training_jobs import PROBLEM, UNAUTHENTICATED
from app.schemas import PredictionRequest, PredictionResponse

router = APIRouter(prefix="/v1/training-jobs", tags=["models"], responses=UNAUTHENTICATED)

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No job with this id, or its model file is gone", **PROBLEM},
    409: {"description": "The job has not completed", **PROBLEM},
    422: {"description": "The request is invalid; `errors` names each field", **PROBLEM},
}


@router.get(
    "/{job_id}/model",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The fitted pipeline in skops format",
            "content": {"application/octet-stream": {}},
        },
        **ERRORS,
    },
)
async def download_model(job_id: uuid.UUID, service: ServiceDep, tenant: TenantDep) -> FileResponse:
    """Download the trained pipeline (preprocessing included) as a skops file."""
    model = await service.get_model_file(job_id, tenant=tenant)
    return FileResponse(model.path, media_type="application/octet-stream", filename=model.filename)


@router.post(
    "/{job_id}/predictions",
    responses={**ERRORS, 400: {"description": "The body could not be parsed", **PROBLEM}},
)
async def predict(
    job_id: uuid.UUID, request: PredictionRequest, service: ServiceDep, tenant: TenantDep
) -> PredictionResponse:
    """Predict with the job's trained model on raw feature rows; classifiers also return
    class probabilities."""
    return await service.predict(job_id, request, tenant=tenant)
