"""``MLModelTrainingService``: the only code that changes job state on behalf of a caller."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import OPEN_TENANT
from app.clients.data_layer import DataLayerClientInterface, SourceCheck
from app.clients.mlflow_registry import MlflowRegistryClient, is_remote
from app.clients.model_registry import ModelRegistryClientInterface
from app.config import Settings, get_settings
from app.db import (
    create_db_engine,
    make_read_session_factory,
    make_session_factory,
    transaction,
)
from app.exceptions import (
    ConfigurationError,
    DataAccessError,
    FieldError,
    IdempotencyConflictError,
    JobStateConflictError,
    ResourceNotFoundError,
    TooManyJobsError,
    TrainingJobError,
)
from app.execution import Executor
from app.execution.attempt import AttemptPayload, default_data_client, jsonable
from app.execution.registration import default_registry_client, prepare_registry
from app.execution.store import JobStore
from app.job_stats import JobStatistics
from app.lifecycle import JobStage, JobStatus
from app.models import JobEvent, TrainingJob, Trial, utcnow
from app.predictions import ModelCache, ModelFile, model_path
from app.schemas import (
    AlgorithmList,
    AlgorithmResponse,
    DataProfile,
    DatasetInfo,
    DatasetList,
    JobError,
    JobEventResponse,
    PredictionRequest,
    PredictionResponse,
    RegistryInfo,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
    ValidationReport,
)
from app.trainer import DataError, SpecError
from app.trainer.algorithms import AlgorithmInfo, build_estimator, get_algorithm
from app.trainer.artifacts import UntrustedModelError
from app.trainer.inference import PredictionInputError, check_columns, predict, rows_to_frame
from app.trainer.tuning import check_search

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidatedRequest:
    request: TrainingJobRequest
    algorithm: AlgorithmInfo
    source: SourceCheck
    max_runtime_seconds: int


def request_hash(request: TrainingJobRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def owned_job(session: Session, job_id: uuid.UUID, tenant: str) -> TrainingJob:
    """The job, if it exists and belongs to ``tenant``; another tenant's job is not found."""
    job = session.get(TrainingJob, job_id)
    if job is None or job.tenant != tenant:
        raise ResourceNotFoundError(f"training job {job_id} not found")
    return job


def to_status(job: TrainingJob) -> TrainingJobStatusResponse:
    error = None
    if job.error_type is not None:
        error = JobError(
            type=job.error_type, stage=job.error_stage, message=job.error_message or ""
        )
    return TrainingJobStatusResponse(
        job_id=job.id,
        model_name=job.model_name,
        model_version=job.model_version,
        algorithm=job.algorithm,
        status=JobStatus(job.status),
        stage=JobStage(job.stage),
        message=job.message,
        progress=job.progress,
        metrics=job.metrics,
        best_hyperparameters=job.best_hyperparameters,
        artifacts_location=job.artifacts_location,
        experiment_name=job.experiment_name,
        tags=job.tags or None,
        error=error,
        registry=RegistryInfo(**job.registry_info) if job.registry_info else None,
        data=job.data_lineage,
        created_at=job.created_at,
        started_at=job.started_at,
        updated_at=job.updated_at,
        completed_at=job.completed_at,
        attempt=job.attempt,
    )


def _writable(folder: Path) -> str:
    """Whether a file can be created in ``folder`` (made if missing): "ok", or the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
            pass
    except FileExistsError:
        return f"error: {folder.resolve()} is not a folder"
    except OSError as exc:
        return f"error: {folder.resolve()} is not writable ({exc.strerror or type(exc).__name__})"
    return "ok"


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
        self.factory = make_session_factory(self.engine)
        self.reader = make_read_session_factory(self.engine)
        self.store = JobStore(self.engine)
        self._custom_data_client = data_layer_client
        self.data_layer_client = data_layer_client or default_data_client(self.settings)
        self.model_registry_client = model_registry_client or default_registry_client(self.settings)
        self._executor = executor
        self._executor_lock = threading.Lock()
        self._started = False
        self.model_cache = ModelCache(
            max_models=self.settings.prediction_cache_models,
            max_bytes=self.settings.prediction_cache_bytes,
        )

    # -- lifecycle --------------------------------------------------------------------------

    def attempt_payload(self) -> AttemptPayload:
        return AttemptPayload(
            settings=self.settings.model_dump(mode="json"),
            data_layer_client=self._custom_data_client,
            model_registry_client=self.model_registry_client,
        )

    @property
    def executor(self) -> Executor:
        with self._executor_lock:
            if self._executor is None and self.settings.executor == "celery":
                from app.execution.celery_executor import CeleryExecutor

                self._executor = CeleryExecutor.from_settings(self.store, self.settings)
            if self._executor is None:
                from app.execution.local import LocalExecutor

                s = self.settings
                self._executor = LocalExecutor(
                    self.store,
                    self.attempt_payload(),
                    max_concurrent_jobs=s.max_concurrent_jobs,
                    lease_seconds=s.lease_seconds,
                    poll_interval=s.poll_interval_seconds,
                    reaper_interval=s.reaper_interval_seconds,
                )
            return self._executor

    def start(self) -> None:
        """Start executing jobs (idempotent); submit calls it for scripts that never do."""
        if not self._started:
            self._started = True
            prepare_registry(self.model_registry_client)
            self.executor.start()

    def close(self) -> None:
        if self._started:
            self.executor.stop(self.settings.shutdown_grace_seconds)
            self._started = False
        self.engine.dispose()

    # -- validation -------------------------------------------------------------------------

    def _readable_by(self, location: str, tenant: str) -> bool:
        """Uploads are per tenant: with API keys on, another tenant's upload is not there."""
        if not tenant:
            return True
        path = Path(location)
        for root in self.settings.data_roots:
            uploads = Path(root).expanduser().resolve() / "uploads"
            if path.is_relative_to(uploads) and not path.is_relative_to(uploads / tenant):
                return False
        return True

    def validate_request(
        self, request: TrainingJobRequest, tenant: str = OPEN_TENANT
    ) -> ValidatedRequest:
        """Every check that is cheap enough to make before accepting a job."""
        errors: list[FieldError] = []
        algorithm: AlgorithmInfo | None = None
        try:
            algorithm = get_algorithm(request.algorithm_config.name)
            if request.algorithm_config.task and request.algorithm_config.task != algorithm.task:
                raise SpecError(
                    "algorithm_config.task",
                    f"{algorithm.name} is a {algorithm.task} model, "
                    f"not {request.algorithm_config.task}",
                )
            build_estimator(algorithm, dict(request.algorithm_config.parameters))
            errors.extend(self._over_caps(request))
            tuning = request.hyperparameter_tuning_config
            if tuning is not None:
                check_search(
                    tuning.model_dump(mode="json"),
                    algorithm,
                    algorithm.task,
                    max_fits=self.settings.max_search_fits,
                )
        except SpecError as exc:
            errors.append(FieldError(exc.field, exc.message))

        resources = request.resource_config
        limit = self.settings.max_runtime_seconds_limit
        runtime = self.settings.default_max_runtime_seconds
        if resources is not None:
            if resources.max_runtime_seconds is not None:
                runtime = resources.max_runtime_seconds
                if runtime > limit:
                    errors.append(
                        FieldError(
                            "resource_config.max_runtime_seconds",
                            f"{runtime} is over the limit of {limit} seconds",
                        )
                    )
            memory = resources.memory_limit_mb
            if memory is not None and memory > self.settings.max_memory_limit_mb:
                errors.append(
                    FieldError(
                        "resource_config.memory_limit_mb",
                        f"{memory} is over the limit of {self.settings.max_memory_limit_mb} MiB",
                    )
                )

        source: SourceCheck | None = None
        try:
            source = self.data_layer_client.check_source(request.data_source_config)
        except ConfigurationError as exc:
            errors.extend(exc.errors or [FieldError("data_source_config", exc.message)])
        if source is not None and not self._readable_by(source.location, tenant):
            path = request.data_source_config.path
            errors.append(FieldError("data_source_config.path", f"no such file: {path!r}"))
            source = None
        if source is not None and source.columns is not None:
            config = request.data_source_config
            wanted = [*(config.feature_columns or []), config.target_column]
            for column in wanted:
                if column not in source.columns:
                    where = (
                        "data_source_config.target_column"
                        if column == config.target_column
                        else "data_source_config.feature_columns"
                    )
                    errors.append(
                        FieldError(
                            where,
                            f"column {column!r} is not in {config.path} "
                            f"(columns: {', '.join(source.columns[:50])})",
                        )
                    )
        if errors:
            summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
            raise ConfigurationError(summary, errors=errors)
        assert algorithm is not None
        assert source is not None
        return ValidatedRequest(request, algorithm, source, runtime)

    def _over_caps(self, request: TrainingJobRequest) -> list[FieldError]:
        """Parameters (and search ranges) past the caps that bound the work of one fit."""
        caps = self.settings.parameter_caps
        found: list[FieldError] = []

        def check(field: str, name: str, value: Any) -> None:
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, list):
                    check(field, name, item)
                elif (
                    isinstance(item, int | float)
                    and not isinstance(item, bool)
                    and item > caps[name]
                ):
                    found.append(
                        FieldError(
                            field,
                            f"{name}={item} is over the limit of {caps[name]:g} "
                            "(TRAINYARD_PARAMETER_CAPS)",
                        )
                    )
                    return

        for name, value in request.algorithm_config.parameters.items():
            if name in caps:
                check(f"algorithm_config.parameters.{name}", name, value)
        tuning = request.hyperparameter_tuning_config
        if tuning is not None:
            for name, dimension in tuning.model_dump(mode="json")["search_space"].items():
                if name not in caps:
                    continue
                if isinstance(dimension, dict):
                    dimension = dimension.get("choices", dimension.get("high"))
                check(f"hyperparameter_tuning_config.search_space.{name}", name, dimension)
        return found

    # -- the seed's API ---------------------------------------------------------------------

    async def submit_training_job(
        self,
        request: TrainingJobRequest,
        *,
        idempotency_key: str | None = None,
        tenant: str = OPEN_TENANT,
    ) -> TrainingJobStatusResponse:
        """Validate, record the job as pending, then hand it to the executor."""
        status, created = await asyncio.to_thread(self._submit, request, idempotency_key, tenant)
        if created:
            self.start()
            self.executor.notify(status.job_id)
        return status

    def _submit(
        self, request: TrainingJobRequest, idempotency_key: str | None, tenant: str
    ) -> tuple[TrainingJobStatusResponse, bool]:
        digest = request_hash(request)
        if idempotency_key is not None:
            replay = self._replay(idempotency_key, digest, tenant)
            if replay is not None:
                return replay, False
        validated = self.validate_request(request, tenant)
        try:
            with transaction(self.factory) as session:
                self._check_pending_cap(session, tenant)
                version = request.model_version or self._next_version(session, request.model_name)
                now = utcnow()
                job = TrainingJob(
                    id=uuid.uuid4(),
                    model_name=request.model_name,
                    model_version=version,
                    algorithm=validated.algorithm.name,
                    experiment_name=request.experiment_name,
                    tags=request.tags or {},
                    request=request.model_dump(mode="json"),
                    request_hash=digest,
                    tenant=tenant,
                    idempotency_key=idempotency_key,
                    status=JobStatus.PENDING.value,
                    stage=JobStage.QUEUED.value,
                    progress=0.0,
                    attempt=0,
                    max_attempts=self.settings.max_attempts,
                    max_runtime_seconds=validated.max_runtime_seconds,
                    cancel_requested=False,
                    created_at=now,
                    updated_at=now,
                )
                session.add(job)
                session.flush()  # the event's foreign key needs the job row first
                session.add(
                    JobEvent(
                        job_id=job.id,
                        status=JobStatus.PENDING.value,
                        stage=JobStage.QUEUED.value,
                        progress=0.0,
                        attempt=0,
                        message="submitted",
                        created_at=now,
                    )
                )
                session.flush()
                status = to_status(job)
        except IntegrityError:
            # A concurrent submit with the same Idempotency-Key won the race.
            if idempotency_key is None:
                raise
            replay = self._replay(idempotency_key, digest, tenant)
            if replay is None:
                raise
            return replay, False
        logger.info(
            "job %s submitted (%s, %s)", status.job_id, request.model_name, validated.algorithm.name
        )
        return status, True

    def _check_pending_cap(self, session: Session, tenant: str) -> None:
        cap = self.settings.max_pending_jobs_per_tenant
        pending = session.scalar(
            select(func.count())
            .select_from(TrainingJob)
            .where(TrainingJob.tenant == tenant, TrainingJob.status == JobStatus.PENDING.value)
        )
        if int(pending or 0) >= cap:
            raise TooManyJobsError(
                f"{pending} jobs are already pending, the limit per tenant "
                f"(TRAINYARD_MAX_PENDING_JOBS_PER_TENANT) is {cap}; retry when some have started",
                retry_after=max(1, int(self.settings.poll_interval_seconds * 40)),
            )

    def _replay(self, key: str, digest: str, tenant: str) -> TrainingJobStatusResponse | None:
        with self.reader() as session:
            job = session.scalar(
                select(TrainingJob).where(
                    TrainingJob.tenant == tenant, TrainingJob.idempotency_key == key
                )
            )
            if job is None:
                return None
            if job.request_hash != digest:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {key!r} was already used for job {job.id} "
                    "with a different request body"
                )
            return to_status(job)

    @staticmethod
    def _next_version(session: Any, model_name: str) -> str:
        count = session.scalar(
            select(func.count())
            .select_from(TrainingJob)
            .where(TrainingJob.model_name == model_name)
        )
        return str(int(count or 0) + 1)

    async def get_training_job_status(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> TrainingJobStatusResponse:
        return await asyncio.to_thread(self._get_status, job_id, tenant)

    def _get_status(self, job_id: uuid.UUID, tenant: str) -> TrainingJobStatusResponse:
        with self.reader() as session:
            return to_status(owned_job(session, job_id, tenant))

    async def list_training_jobs(
        self, limit: int = 100, offset: int = 0, *, tenant: str = OPEN_TENANT
    ) -> list[TrainingJobStatusResponse]:
        page = await self.search_training_jobs(limit=limit, offset=offset, tenant=tenant)
        return page.items

    async def search_training_jobs(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        status: JobStatus | None = None,
        model_name: str | None = None,
        experiment_name: str | None = None,
        tenant: str = OPEN_TENANT,
    ) -> TrainingJobList:
        """A page of jobs, newest first, with the total that match the filters."""
        return await asyncio.to_thread(
            self._search, limit, offset, status, model_name, experiment_name, tenant
        )

    def _search(
        self,
        limit: int,
        offset: int,
        status: JobStatus | None,
        model_name: str | None,
        experiment_name: str | None,
        tenant: str,
    ) -> TrainingJobList:
        if limit < 1 or offset < 0:
            raise ConfigurationError("limit must be at least 1 and offset at least 0")
        conditions = [TrainingJob.tenant == tenant]
        if status is not None:
            conditions.append(TrainingJob.status == status.value)
        if model_name is not None:
            conditions.append(TrainingJob.model_name == model_name)
        if experiment_name is not None:
            conditions.append(TrainingJob.experiment_name == experiment_name)
        with self.reader() as session:
            total = session.scalar(select(func.count()).select_from(TrainingJob).where(*conditions))
            jobs = session.scalars(
                select(TrainingJob)
                .where(*conditions)
                .order_by(TrainingJob.created_at.desc(), TrainingJob.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            items = [to_status(job) for job in jobs]
        return TrainingJobList(items=items, total=int(total or 0), limit=limit, offset=offset)

    # -- beyond the seed --------------------------------------------------------------------

    async def cancel_training_job(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> TrainingJobStatusResponse:
        """Cancel a pending job at once; ask the supervisor of a running one to stop it."""
        return await asyncio.to_thread(self._cancel, job_id, tenant)

    def _cancel(self, job_id: uuid.UUID, tenant: str) -> TrainingJobStatusResponse:
        now = utcnow()
        with transaction(self.factory) as session:
            owned_job(session, job_id, tenant)
            cancelled = session.execute(
                update(TrainingJob)
                .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.PENDING.value)
                .values(
                    status=JobStatus.CANCELLED.value,
                    cancel_requested=True,
                    message="cancelled before it started",
                    updated_at=now,
                    completed_at=now,
                )
                .returning(TrainingJob.stage, TrainingJob.progress, TrainingJob.attempt)
            ).first()
            if cancelled is not None:
                session.add(
                    JobEvent(
                        job_id=job_id,
                        status=JobStatus.CANCELLED.value,
                        stage=cancelled.stage,
                        progress=cancelled.progress,
                        attempt=cancelled.attempt,
                        message="cancelled before it started",
                        created_at=now,
                    )
                )
            else:
                session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.RUNNING.value)
                    .values(cancel_requested=True, message="cancellation requested", updated_at=now)
                )
            session.expire_all()
            job = owned_job(session, job_id, tenant)
            if cancelled is None and job.status not in (JobStatus.RUNNING, JobStatus.PENDING):
                raise JobStateConflictError(
                    f"training job {job_id} is already {job.status}; only pending or running "
                    "jobs can be cancelled"
                )
            return to_status(job)

    async def get_training_job_events(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> list[JobEventResponse]:
        return await asyncio.to_thread(self._events, job_id, tenant)

    def _events(self, job_id: uuid.UUID, tenant: str) -> list[JobEventResponse]:
        with self.reader() as session:
            owned_job(session, job_id, tenant)
            events = session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            ).all()
            return [JobEventResponse.model_validate(e, from_attributes=True) for e in events]

    @property
    def executor_alive(self) -> bool:
        return self._started and bool(self.executor.alive)

    async def get_training_job_trials(
        self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT
    ) -> list[TrialResponse]:
        return await asyncio.to_thread(self._trials, job_id, tenant)

    def _trials(self, job_id: uuid.UUID, tenant: str) -> list[TrialResponse]:
        """The trials of the job's latest attempt, in the order they were numbered."""
        with self.reader() as session:
            job = owned_job(session, job_id, tenant)
            trials = session.scalars(
                select(Trial)
                .where(Trial.job_id == job_id, Trial.attempt == job.attempt)
                .order_by(Trial.number)
            ).all()
            return [TrialResponse.model_validate(t, from_attributes=True) for t in trials]

    def ping_database(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def ping_storage(self) -> dict[str, str]:
        """The folders this service writes (artifacts; a local MLflow store and its artifacts),
        each "ok" or what is wrong with it: a job there would only fail later."""
        checks = {"artifacts": _writable(Path(self.settings.artifact_root))}
        client = self.model_registry_client
        if isinstance(client, MlflowRegistryClient) and not is_remote(client.tracking_uri):
            folders = [client.artifact_root] if client.artifact_root else []
            if client.tracking_uri.startswith("sqlite:"):
                database = make_url(client.tracking_uri).database
                if database and database != ":memory:":
                    folders.insert(0, Path(database).parent)
            problems = [p for p in map(_writable, folders) if p != "ok"]
            checks["registry"] = problems[0] if problems else "ok"
        return checks

    # -- discovery, logs and statistics (user tools and operations) -------------------------

    async def list_algorithms(self, *, task: str | None = None) -> AlgorithmList:
        """Every estimator a job may use, with its parameters, types and defaults."""
        from app.trainer.catalog import catalog

        items = [
            AlgorithmResponse.model_validate(entry)
            for entry in catalog()
            if task is None or entry["task"] == task
        ]
        return AlgorithmList(items=items, total=len(items))

    async def get_algorithm(self, name: str) -> AlgorithmResponse:
        from app.trainer.catalog import catalog

        for entry in catalog():
            if entry["name"] == name:
                return AlgorithmResponse.model_validate(entry)
        try:
            get_algorithm(name, field="name")
        except SpecError as exc:
            raise ResourceNotFoundError(exc.message) from None
        raise ResourceNotFoundError(f"unknown algorithm {name!r}")  # pragma: no cover

    async def get_training_job_logs(
        self, job_id: uuid.UUID, *, attempt: int | None = None, tenant: str = OPEN_TENANT
    ) -> str:
        """The logs the training processes of a job wrote, oldest attempt first."""
        return await asyncio.to_thread(self._logs, job_id, attempt, tenant)

    def _logs(self, job_id: uuid.UUID, attempt: int | None, tenant: str) -> str:
        from app.execution.attempt_log import read_logs

        with self.reader() as session:
            job = owned_job(session, job_id, tenant)
            if attempt is not None and not 1 <= attempt <= max(job.attempt, 1):
                raise ResourceNotFoundError(
                    f"training job {job_id} has no attempt {attempt} (it has had {job.attempt})"
                )
        return read_logs(self.settings.artifact_root, str(job_id), attempt)

    async def get_job_statistics(self) -> JobStatistics:
        """Jobs by status, queue wait and run durations, read from the database now."""
        from app.job_stats import collect

        return await asyncio.to_thread(collect, self.engine, self.reader)

    # -- data: dry run and uploads (issue 4) ------------------------------------------------

    async def validate_training_job(
        self, request: TrainingJobRequest, *, tenant: str = OPEN_TENANT
    ) -> ValidationReport:
        """Every submit check plus a real read of the data; trains nothing, creates no job."""
        return await asyncio.to_thread(self._dry_run, request, tenant)

    def _dry_run(self, request: TrainingJobRequest, tenant: str) -> ValidationReport:
        from app.execution.attempt import training_spec
        from app.trainer.profile import check_data

        validated = self.validate_request(request, tenant)
        config = request.data_source_config
        columns = (
            [*config.feature_columns, config.target_column] if config.feature_columns else None
        )
        try:
            dataset = self.data_layer_client.fetch(config, columns=columns)
        except DataAccessError as exc:
            raise DataAccessError(
                exc.message, errors=[FieldError("data_source_config.path", exc.message)]
            ) from None
        spec = training_spec(request, self.settings)
        try:
            report = check_data(spec, dataset.frame)
        except SpecError as exc:
            raise ConfigurationError.for_field(exc.field, exc.message) from None
        except DataError as exc:
            raise DataAccessError(
                exc.message, errors=[FieldError("data_source_config", exc.message)]
            ) from None
        resolved = {
            "algorithm": validated.algorithm.name,
            "task": report.task,
            "estimator_parameters": jsonable(report.estimator_parameters),
            "target_column": config.target_column,
            "feature_columns": report.feature_columns,
            "column_kinds": report.column_kinds,
            "preprocessing": {**asdict(spec.preprocessing), "scaled": report.scaled},
            "evaluation": request.evaluation_config.model_dump(mode="json"),
            "hyperparameter_tuning": spec.tuning,
            "n_jobs": spec.n_jobs,
            "max_runtime_seconds": validated.max_runtime_seconds,
        }
        data = {
            "location": dataset.location,
            "format": dataset.format,
            "fingerprint": dataset.fingerprint,
            "size_bytes": dataset.size_bytes,
            "rows": int(len(dataset.frame)),
            "columns": int(dataset.frame.shape[1]),
        }
        return ValidationReport(
            valid=True,
            resolved=resolved,
            data=data,
            profile=DataProfile.model_validate(report.profile),
            notes=report.notes,
        )

    async def upload_dataset(
        self,
        *,
        content_type: str,
        content_length: str | None,
        body: AsyncIterator[bytes],
        tenant: str = OPEN_TENANT,
    ) -> DatasetInfo:
        """Stream a multipart upload into ``<first data root>/uploads``."""
        from app.datasets import DatasetStore

        store = DatasetStore(self.settings, tenant)
        return await store.receive(
            content_type=content_type, content_length=content_length, body=body
        )

    async def list_datasets(self, *, tenant: str = OPEN_TENANT) -> DatasetList:
        from app.datasets import DatasetStore

        items = await asyncio.to_thread(DatasetStore(self.settings, tenant).list_all)
        return DatasetList(items=items)

    # -- trained models: download and predictions -------------------------------------------

    def _completed_model(self, job_id: uuid.UUID, tenant: str) -> tuple[TrainingJob, Path]:
        with self.reader() as session:
            job = owned_job(session, job_id, tenant)
        if job.status != JobStatus.COMPLETED.value:
            raise JobStateConflictError(
                f"training job {job_id} is {job.status}; its model is there once it has completed"
            )
        path = model_path(self.settings.artifact_root, job_id)
        if not path.is_file():
            raise ResourceNotFoundError(f"the model file of training job {job_id} is missing")
        return job, path

    async def get_model_file(self, job_id: uuid.UUID, *, tenant: str = OPEN_TENANT) -> ModelFile:
        """The saved pipeline (skops) of a completed job."""
        return await asyncio.to_thread(self._model_file, job_id, tenant)

    def _model_file(self, job_id: uuid.UUID, tenant: str) -> ModelFile:
        job, path = self._completed_model(job_id, tenant)
        return ModelFile(path, f"{job.model_name}-{job.model_version}.skops")

    async def predict(
        self, job_id: uuid.UUID, request: PredictionRequest, *, tenant: str = OPEN_TENANT
    ) -> PredictionResponse:
        """Predict with a completed job's pipeline on raw feature rows."""
        return await asyncio.to_thread(self._predict, job_id, request, tenant)

    def _predict(
        self, job_id: uuid.UUID, request: PredictionRequest, tenant: str
    ) -> PredictionResponse:
        limit = self.settings.max_prediction_rows
        if len(request.rows) > limit:
            raise ConfigurationError.for_field(
                "rows", f"{len(request.rows)} rows is over the limit of {limit} per request"
            )
        job, path = self._completed_model(job_id, tenant)
        try:
            model = self.model_cache.get(job_id, path)
        except UntrustedModelError as exc:
            raise TrainingJobError(f"the model of training job {job_id} is refused: {exc}") from exc
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
