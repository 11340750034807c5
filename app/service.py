"""``MLModelTrainingService``: the seed's API, a thin facade over the domain services.

It builds the engine, the repository, the executor and the services of each domain, and
offers their methods as the seed's ``async`` ones. The HTTP endpoints call the domain
services directly; scripts and notebooks call this.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Engine

from app.config import Settings, get_settings
from app.core.auth import OPEN_TENANT
from app.core.db import create_db_engine
from app.datasets.schemas import DatasetInfo, DatasetList
from app.datasets.service import DatasetStore
from app.execution import Executor, build_executor
from app.execution.payload import AttemptPayload
from app.execution.registration import default_registry_client, prepare_registry
from app.integrations.data_layer import DataLayerClientInterface, build_data_client
from app.integrations.registry.interface import ModelRegistryClientInterface
from app.jobs.repository import JobRepository
from app.jobs.schemas import (
    JobEventResponse,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
    ValidationReport,
)
from app.jobs.service import JobService
from app.jobs.stats import JobStatistics
from app.predictions.cache import ModelFile
from app.predictions.schemas import PredictionRequest, PredictionResponse
from app.predictions.service import PredictionService


class MLModelTrainingService:
    """Submit, inspect, list and cancel training jobs.

    With no arguments it works on the embedded defaults (settings from the environment).
    A client passed here is sent to the training processes, so it must be picklable.
    """

    def __init__(
        self,
        data_layer_client: DataLayerClientInterface | None = None,
        model_registry_client: ModelRegistryClientInterface | None = None,
        *,
        settings: Settings | None = None,
        engine: Engine | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.engine = engine or create_db_engine(self.settings.database_url)
        self.repository = JobRepository(self.engine)
        self.data_layer_client = data_layer_client or build_data_client(self.settings)
        self.model_registry_client = model_registry_client or default_registry_client(self.settings)
        self.payload = AttemptPayload(
            settings=self.settings.model_dump(mode="json"),
            data_layer_client=data_layer_client,
            model_registry_client=self.model_registry_client,
        )
        self._executor = executor
        self._lock = threading.Lock()
        self._started = False
        self.jobs = JobService(
            repository=self.repository,
            settings=self.settings,
            data_client=self.data_layer_client,
            dispatch=self.dispatch,
            registry=self.model_registry_client,
        )
        self.predictions = PredictionService(jobs=self.jobs, settings=self.settings)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def executor(self) -> Executor:
        with self._lock:
            if self._executor is None:
                self._executor = build_executor(self.repository, self.payload, self.settings)
            return self._executor

    def start(self) -> None:
        """Start executing jobs (idempotent); a submit calls it for scripts that never do."""
        if not self._started:
            self._started = True
            prepare_registry(self.model_registry_client)
            self.executor.start()

    def dispatch(self, job_id: uuid.UUID) -> None:
        """A job was committed as pending: make sure someone will run it."""
        self.start()
        self.executor.notify(job_id)

    def close(self) -> None:
        if self._started:
            self.executor.stop(self.settings.shutdown_grace_seconds)
            self._started = False
        self.repository.close()

    @property
    def executor_alive(self) -> bool:
        return self._started and bool(self.executor.alive)

    # -- the seed's API ---------------------------------------------------------------------

    async def submit_training_job(
        self,
        request: TrainingJobRequest,
        *,
        idempotency_key: str | None = None,
        tenant: str = OPEN_TENANT,
    ) -> TrainingJobStatusResponse:
        """Validate, record the job as pending, then hand it to the executor."""
        return await asyncio.to_thread(
            self.jobs.submit, request, idempotency_key=idempotency_key, tenant=tenant
        )

    async def get_training_job_status(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> TrainingJobStatusResponse:
        return await asyncio.to_thread(self.jobs.get_status, job_id, tenant=tenant)

    async def list_training_jobs(
        self, limit: int = 100, offset: int = 0, *, tenant: str = OPEN_TENANT
    ) -> list[TrainingJobStatusResponse]:
        page = await self.search_training_jobs(limit=limit, offset=offset, tenant=tenant)
        return page.items

    # -- beyond the seed: each one call into a domain service -------------------------------

    async def search_training_jobs(
        self, *, tenant: str = OPEN_TENANT, **filters: Any
    ) -> TrainingJobList:
        """A page of jobs; ``filters`` are ``JobService.search``'s (limit, offset, status, ...)."""
        return await asyncio.to_thread(self.jobs.search, tenant=tenant, **filters)

    async def cancel_training_job(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> TrainingJobStatusResponse:
        return await asyncio.to_thread(self.jobs.cancel, job_id, tenant=tenant)

    async def get_training_job_events(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> list[JobEventResponse]:
        return await asyncio.to_thread(self.jobs.events, job_id, tenant=tenant)

    async def get_training_job_trials(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> list[TrialResponse]:
        return await asyncio.to_thread(self.jobs.trials, job_id, tenant=tenant)

    async def get_training_job_logs(
        self, job_id: uuid.UUID, *, attempt: int | None = None, tenant: str = OPEN_TENANT
    ) -> str:
        return await asyncio.to_thread(self.jobs.logs, job_id, attempt=attempt, tenant=tenant)

    async def validate_training_job(
        self, request: TrainingJobRequest, *, tenant: str = OPEN_TENANT
    ) -> ValidationReport:
        return await asyncio.to_thread(self.jobs.dry_run, request, tenant=tenant)

    async def get_job_statistics(self) -> JobStatistics:
        return await asyncio.to_thread(self.repository.statistics)

    async def upload_dataset(
        self,
        *,
        content_type: str,
        content_length: str | None,
        body: AsyncIterator[bytes],
        tenant: str = OPEN_TENANT,
    ) -> DatasetInfo:
        return await DatasetStore(self.settings, tenant).receive(
            content_type=content_type, content_length=content_length, body=body
        )

    async def list_datasets(self, *, tenant: str = OPEN_TENANT) -> DatasetList:
        items = await asyncio.to_thread(DatasetStore(self.settings, tenant).list_all)
        return DatasetList(items=items)

    async def get_model_file(self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT) -> ModelFile:
        return await asyncio.to_thread(self.predictions.model_file, job_id, tenant=tenant)

    async def predict(
        self, job_id: uuid.UUID, request: PredictionRequest, *, tenant: str = OPEN_TENANT
    ) -> PredictionResponse:
        return await asyncio.to_thread(self.predictions.predict, job_id, request, tenant=tenant)
