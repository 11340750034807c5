"""Trained models: download the saved pipeline, predict with it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from app.core.deps import TenantDep
from app.core.problems import PROBLEM_RESPONSE as PROBLEM
from app.core.problems import UNAUTHENTICATED
from app.predictions.schemas import ModelFeatures, PredictionRequest, PredictionResponse
from app.predictions.service import PredictionService


async def get_predictions(request: Request) -> PredictionService:
    predictions: PredictionService = request.app.state.predictions
    return predictions


PredictionsDep = Annotated[PredictionService, Depends(get_predictions)]

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
def download_model(
    job_id: uuid.UUID, predictions: PredictionsDep, tenant: TenantDep
) -> FileResponse:
    """Download the trained pipeline (preprocessing included) as a skops file."""
    model = predictions.model_file(job_id, tenant=tenant)
    return FileResponse(model.path, media_type="application/octet-stream", filename=model.filename)


@router.get("/{job_id}/model/features", responses=ERRORS)
def get_model_features(
    job_id: uuid.UUID, predictions: PredictionsDep, tenant: TenantDep
) -> ModelFeatures:
    """The raw feature columns the trained model takes: the keys of each prediction row."""
    return predictions.features(job_id, tenant=tenant)


@router.post(
    "/{job_id}/predictions",
    responses={**ERRORS, 400: {"description": "The body could not be parsed", **PROBLEM}},
)
def predict(
    job_id: uuid.UUID, request: PredictionRequest, predictions: PredictionsDep, tenant: TenantDep
) -> PredictionResponse:
    """Predict with the job's trained model on raw feature rows; classifiers also return
    class probabilities."""
    return predictions.predict(job_id, request, tenant=tenant)
