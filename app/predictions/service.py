"""Trained models on behalf of a caller: download a completed job's model, predict with it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from app.config import Settings
from app.core.exceptions import (
    ConfigurationError,
    FieldError,
    JobStateConflictError,
    ResourceNotFoundError,
    TrainingJobError,
)
from app.jobs.lifecycle import JobStatus
from app.jobs.models import TrainingJob
from app.jobs.service import JobService
from app.predictions.cache import LoadedModel, ModelCache, ModelFile, model_path
from app.predictions.schemas import ModelFeatures, PredictionRequest, PredictionResponse
from app.trainer.artifacts import UntrustedModelError
from app.trainer.inference import PredictionInputError, check_columns, predict, rows_to_frame


class PredictionService:
    def __init__(self, *, jobs: JobService, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self.model_cache = ModelCache(
            max_models=settings.prediction_cache_models,
            max_bytes=settings.prediction_cache_bytes,
        )

    def _completed_model(self, job_id: uuid.UUID, tenant: str) -> tuple[TrainingJob, Path]:
        job = self.jobs.owned_job(job_id, tenant)
        if job.status != JobStatus.COMPLETED.value:
            raise JobStateConflictError(
                f"training job {job_id} is {job.status}; its model is there once it has completed"
            )
        path = model_path(self.settings.artifact_root, job_id)
        if not path.is_file():
            raise ResourceNotFoundError(f"the model file of training job {job_id} is missing")
        return job, path

    def model_file(self, job_id: uuid.UUID, *, tenant: str) -> ModelFile:
        """The saved pipeline (skops) of a completed job."""
        job, path = self._completed_model(job_id, tenant)
        return ModelFile(path, f"{job.model_name}-{job.model_version}.skops")

    def _loaded(self, job_id: uuid.UUID, path: Path) -> LoadedModel:
        try:
            return self.model_cache.get(job_id, path)
        except UntrustedModelError as exc:
            raise TrainingJobError(f"the model of training job {job_id} is refused: {exc}") from exc

    def features(self, job_id: uuid.UUID, *, tenant: str) -> ModelFeatures:
        """The feature columns a completed job's model takes (a prediction form's fields)."""
        _, path = self._completed_model(job_id, tenant)
        model = self._loaded(job_id, path)
        return ModelFeatures(job_id=job_id, task=model.task, feature_columns=model.feature_columns)

    def predict(
        self, job_id: uuid.UUID, request: PredictionRequest, *, tenant: str
    ) -> PredictionResponse:
        """Predict with a completed job's pipeline on raw feature rows."""
        limit = self.settings.max_prediction_rows
        if len(request.rows) > limit:
            raise ConfigurationError.for_field(
                "rows", f"{len(request.rows)} rows is over the limit of {limit} per request"
            )
        job, path = self._completed_model(job_id, tenant)
        model = self._loaded(job_id, path)
        rows: list[dict[str, Any]] = request.rows
        problems = check_columns(rows, model.feature_columns)
        try:
            if problems:
                raise PredictionInputError(problems)
            frame = rows_to_frame(model.pipeline, rows, model.feature_columns)
        except PredictionInputError as exc:
            errors = [FieldError(e.field, e.message) for e in exc.errors]
            expected = ", ".join(model.feature_columns)
            raise ConfigurationError(f"{exc} (the model takes: {expected})", errors=errors) from exc
        try:
            result = predict(model.pipeline, frame)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError.for_field(
                "rows", f"the model cannot predict these rows: {exc}"
            ) from exc
        return PredictionResponse(
            job_id=job.id,
            model_name=job.model_name,
            model_version=job.model_version,
            task=model.task,
            predictions=result.predictions,
            classes=result.classes,
            probabilities=result.probabilities,
        )
