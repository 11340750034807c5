"""Training jobs on behalf of a caller: submit, inspect, list, cancel, dry-run.

Sync inside (FastAPI runs sync endpoints in its thread pool; the facade wraps these for the
seed's async API). State goes through ``JobRepository``; running work is the executor's.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from app.config import Settings
from app.core.exceptions import (
    ConfigurationError,
    DataAccessError,
    FieldError,
    IdempotencyConflictError,
    JobStateConflictError,
    ModelRegistryError,
    ModelVersionConflictError,
    ResourceNotFoundError,
    TooManyJobsError,
    from_trainer_error,
)
from app.integrations.data_layer import DataLayerClientInterface
from app.integrations.registry.interface import ModelRegistryClientInterface
from app.jobs import pagination
from app.jobs.lifecycle import JobStage, JobStatus
from app.jobs.logs import job_directory
from app.jobs.models import TrainingJob
from app.jobs.repository import (
    IdempotencyKeyTaken,
    JobFilter,
    JobNotFinished,
    JobRepository,
    ModelVersionTaken,
    PendingLimitReached,
    Removed,
    StatusRow,
)
from app.jobs.repository.status import AsyncStatusReader, async_status_reader
from app.jobs.schemas import (
    DataProfile,
    EvaluationReport,
    JobError,
    JobEstimate,
    JobEventResponse,
    RegistryInfo,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
    ValidationReport,
)
from app.jobs.spec import jsonable, request_hash, requested_columns, training_spec
from app.jobs.validation import ValidatedRequest, validate_request
from app.trainer import DataError, SpecError

logger = logging.getLogger(__name__)


def to_status(job: TrainingJob | StatusRow) -> TrainingJobStatusResponse:
    """A job's status, from its ORM object or from a row of the status read."""
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
        eta_seconds=job.eta_seconds,
        estimate=JobEstimate.model_validate(job.estimate) if job.estimate else None,
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


class JobService:
    def __init__(
        self,
        *,
        repository: JobRepository,
        settings: Settings,
        data_client: DataLayerClientInterface,
        dispatch: Callable[[uuid.UUID], None],
        registry: ModelRegistryClientInterface | None = None,
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.settings = settings
        self.data_client = data_client
        self.dispatch = dispatch
        self._async_status: AsyncStatusReader | None = None
        self._status_bodies = StatusBodies()

    def owned_job(self, job_id: uuid.UUID, tenant: str) -> TrainingJob:
        """The job, if it exists and belongs to ``tenant``; another tenant's job is not found."""
        job = self.repository.get_job(job_id, tenant=tenant)
        if job is None:
            raise ResourceNotFoundError(f"training job {job_id} not found")
        return job

    def validate(self, request: TrainingJobRequest, *, tenant: str) -> ValidatedRequest:
        return validate_request(
            request, settings=self.settings, data_client=self.data_client, tenant=tenant
        )

    # -- submit -----------------------------------------------------------------------------

    def submit(
        self, request: TrainingJobRequest, *, idempotency_key: str | None, tenant: str
    ) -> TrainingJobStatusResponse:
        """Validate, record the job as pending, then hand it to the executor."""
        status, created = self.record(request, idempotency_key=idempotency_key, tenant=tenant)
        if created:
            self.dispatch(status.job_id)
        return status

    def record(
        self, request: TrainingJobRequest, *, idempotency_key: str | None, tenant: str
    ) -> tuple[TrainingJobStatusResponse, bool]:
        """Commit the job as pending (or find the one this idempotency key made)."""
        digest = request_hash(request)
        if idempotency_key is not None:
            replay = self._replay(idempotency_key, digest, tenant)
            if replay is not None:
                return replay, False
        validated = self.validate(request, tenant=tenant)
        self._check_warm_start(request, tenant)
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "model_name": request.model_name,
            "model_version": request.model_version,
            "algorithm": validated.algorithm.name,
            "experiment_name": request.experiment_name,
            "tags": request.tags or {},
            "request": request.model_dump(mode="json"),
            "request_hash": digest,
            "tenant": tenant,
            "idempotency_key": idempotency_key,
            "max_attempts": self.settings.max_attempts,
            "max_runtime_seconds": validated.max_runtime_seconds,
        }
        cap = self.settings.max_pending_jobs_per_tenant
        try:
            job = self.repository.create_job(values, pending_limit=cap)
        except PendingLimitReached as exc:
            raise TooManyJobsError(
                f"{exc.pending} jobs are already pending, the limit per tenant "
                f"(TRAINYARD_MAX_PENDING_JOBS_PER_TENANT) is {cap}; retry when some have started",
                retry_after=max(1, int(self.settings.poll_interval_seconds * 40)),
            ) from None
        except ModelVersionTaken:
            raise ModelVersionConflictError(
                f"model {request.model_name!r} already has version {request.model_version!r}; "
                "give another model_version, or none to take the next number"
            ) from None
        except IdempotencyKeyTaken:
            # A concurrent submit with the same Idempotency-Key won the race.
            assert idempotency_key is not None
            replay = self._replay(idempotency_key, digest, tenant)
            if replay is None:
                raise
            return replay, False
        logger.info("job %s submitted (%s, %s)", job.id, job.model_name, job.algorithm)
        return to_status(job), True

    def _replay(self, key: str, digest: str, tenant: str) -> TrainingJobStatusResponse | None:
        job = self.repository.find_by_idempotency_key(tenant, key)
        if job is None:
            return None
        if job.request_hash != digest:
            raise IdempotencyConflictError(
                f"Idempotency-Key {key!r} was already used for job {job.id} "
                "with a different request body"
            )
        return to_status(job)

    # -- reads ------------------------------------------------------------------------------

    def get_status(self, job_id: uuid.UUID, *, tenant: str) -> TrainingJobStatusResponse:
        """Fast enough for the event loop: one indexed read on a pool of its own."""
        return _found_status(job_id, self.repository.read_status(job_id, tenant=tenant))

    async def read_status_json(self, job_id: uuid.UUID, *, tenant: str) -> bytes:
        """``get_status`` as the response's JSON, for the event loop. On PostgreSQL the read
        awaits the server (the loop serves other requests meanwhile) once ``open_async_reads``
        ran on this loop; on SQLite it is a local read that never waits for a writer. A row
        read again unchanged (a job polled while it waits, or after it ended) gets the body
        encoded the last time."""
        reader = self._async_status
        if reader is None:
            row = self.repository.read_status(job_id, tenant=tenant)
        else:
            row = await reader.read(job_id, tenant)
        if row is None:
            raise ResourceNotFoundError(f"training job {job_id} not found")
        return self._status_bodies.body(row)

    async def open_async_reads(self) -> None:
        """Start the async status reads on the running loop (PostgreSQL: asyncpg, or psycopg
        for a URL asyncpg would not read as libpq does)."""
        dialect = self.repository.engine.dialect
        if self._async_status is None and (dialect.name, dialect.driver) == (
            "postgresql",
            "psycopg",
        ):
            reader = async_status_reader(
                self.repository.engine,
                fallback=lambda job_id, tenant: self.repository.read_status(job_id, tenant=tenant),
            )
            await reader.open()
            self._async_status = reader

    async def close_async_reads(self) -> None:
        reader, self._async_status = self._async_status, None
        if reader is not None:
            await reader.close()

    def search(
        self,
        *,
        tenant: str,
        limit: int = 100,
        offset: int = 0,
        page_token: str | None = None,
        include_total: bool = False,
        status: JobStatus | None = None,
        model_name: str | None = None,
        experiment_name: str | None = None,
    ) -> TrainingJobList:
        """A page of jobs, newest first, from the start, past ``offset`` or past the job a
        ``page_token`` names; the total that match only with ``include_total``."""
        if limit < 1 or offset < 0:
            raise ConfigurationError("limit must be at least 1 and offset at least 0")
        where = JobFilter(tenant, status, model_name, experiment_name)
        after = None
        if page_token is not None:
            if offset:
                raise ConfigurationError.for_field(
                    "page_token", "give page_token or offset, not both"
                )
            after = pagination.decode(page_token, where)
        page = self.repository.list_jobs(
            where, limit=limit, offset=offset, after=after, count=include_total
        )
        return TrainingJobList(
            items=[to_status(job) for job in page.jobs],
            next_page_token=None if page.next is None else pagination.encode(page.next, where),
            total=page.total,
            limit=limit,
            offset=offset,
        )

    def events(self, job_id: uuid.UUID, *, tenant: str) -> list[JobEventResponse]:
        self.owned_job(job_id, tenant)
        events = self.repository.list_events(job_id)
        if not events:
            # Every job has its "submitted" event: none means it was deleted since the read.
            raise ResourceNotFoundError(f"training job {job_id} not found")
        return [JobEventResponse.model_validate(event, from_attributes=True) for event in events]

    def trials(self, job_id: uuid.UUID, *, tenant: str) -> list[TrialResponse]:
        """The job's trials by number: imported (warm start, negative numbers), finished,
        and the search's units still pending or running."""
        self.owned_job(job_id, tenant)
        trials = self.repository.list_trials(job_id)
        if not trials:
            self.owned_job(job_id, tenant)  # deleted since the first read: not found
        return [TrialResponse.of(trial) for trial in trials]

    def logs(self, job_id: uuid.UUID, *, attempt: int | None, tenant: str) -> str:
        """The logs the training processes of a job wrote, oldest attempt first."""
        from app.jobs.logs import read_logs

        job = self.owned_job(job_id, tenant)
        if attempt is not None and not 1 <= attempt <= max(job.attempt, 1):
            raise ResourceNotFoundError(
                f"training job {job_id} has no attempt {attempt} (it has had {job.attempt})"
            )
        return read_logs(self.settings.artifact_root, str(job_id), attempt)

    def evaluation(self, job_id: uuid.UUID, *, tenant: str) -> EvaluationReport:
        """The evaluation report a completed job stored with its artifacts."""
        from pathlib import Path

        from app.trainer.artifacts import read_evaluation

        job = self.owned_job(job_id, tenant)
        if job.status != JobStatus.COMPLETED.value:
            raise JobStateConflictError(
                f"training job {job_id} is {job.status}; its evaluation report is there once "
                "it has completed"
            )
        report = read_evaluation(Path(self.settings.artifact_root).resolve() / str(job_id))
        if report is None:
            raise ResourceNotFoundError(
                f"training job {job_id} has no evaluation report: it was trained before "
                "Trainyard made them (train it again to get one)"
            )
        return EvaluationReport.model_validate({**report, "job_id": job_id})

    # -- changes ----------------------------------------------------------------------------

    def cancel(self, job_id: uuid.UUID, *, tenant: str) -> TrainingJobStatusResponse:
        """Cancel a pending job at once; ask the supervisor of a running one to stop it."""
        found = self.repository.request_cancel(job_id, tenant)
        if found is None:
            raise ResourceNotFoundError(f"training job {job_id} not found")
        job, cancelled_now = found
        if not cancelled_now and job.status not in (JobStatus.RUNNING, JobStatus.PENDING):
            raise JobStateConflictError(
                f"training job {job_id} is already {job.status}; only pending or running "
                "jobs can be cancelled"
            )
        return to_status(job)

    def delete(self, job_id: uuid.UUID, *, tenant: str) -> None:
        """Delete a finished job: its rows at once (one transaction), then its artifacts and
        logs, then its registry run (marked deleted). 409 while it is pending or running."""
        try:
            removed = self.repository.delete_job(job_id, tenant)
        except JobNotFinished as exc:
            raise JobStateConflictError(
                f"training job {job_id} is {exc.status}; cancel it, or wait until it "
                "finishes, before deleting it"
            ) from None
        if removed is None:
            raise ResourceNotFoundError(f"training job {job_id} not found")
        self.forget([removed])

    def forget(self, removed: list[Removed]) -> None:
        """What deleted jobs left outside the database: their directory (model, metrics,
        logs) and their registry run. Failures are logged, never raised: the rows are gone."""
        for job in removed:
            shutil.rmtree(job_directory(self.settings.artifact_root, str(job.job_id)), True)
            if job.run_id is not None and self.registry is not None:
                try:
                    self.registry.delete_run(job.run_id)
                except ModelRegistryError as exc:
                    logger.warning("job %s deleted; its registry run was not: %s", job.job_id, exc)

    # -- dry run ----------------------------------------------------------------------------

    def _check_warm_start(self, request: TrainingJobRequest, tenant: str) -> None:
        tuning = request.hyperparameter_tuning_config
        if tuning is None or not tuning.warm_start_from:
            return
        from app.jobs.warm_start import check_sources

        def fingerprint() -> str:
            try:
                dataset = self.data_client.fetch(
                    request.data_source_config, columns=requested_columns(request)
                )
            except DataAccessError as exc:
                raise DataAccessError(
                    exc.message, errors=[FieldError("data_source_config.path", exc.message)]
                ) from None
            return str(dataset.fingerprint)

        check_sources(self.repository, request.model_dump(mode="json"), tenant, fingerprint)

    def _estimate(self, spec: Any, frame: Any, fetch_seconds: float) -> JobEstimate | None:
        from app.trainer.estimate import estimate_job

        slots = self.settings.max_concurrent_jobs if self.settings.executor == "local" else 64
        try:
            figures = estimate_job(
                spec,
                frame,
                slots=slots,
                fixed_seconds=fetch_seconds + self.settings.estimate_overhead_seconds,
            )
        except Exception:  # an estimate is advice: a model that fails here fails in the job
            logger.warning("no estimate for this dry run", exc_info=True)
            return None
        return JobEstimate.model_validate(figures.as_dict())

    def dry_run(self, request: TrainingJobRequest, *, tenant: str) -> ValidationReport:
        """Every submit check plus a real read of the data; trains nothing, creates no job."""
        from app.trainer.profile import check_data

        validated = self.validate(request, tenant=tenant)
        config = request.data_source_config
        started = time.perf_counter()
        try:
            dataset = self.data_client.fetch(config, columns=requested_columns(request))
        except DataAccessError as exc:
            raise DataAccessError(
                exc.message, errors=[FieldError("data_source_config.path", exc.message)]
            ) from None
        spec = training_spec(request, self.settings)
        try:
            report = check_data(spec, dataset.frame)
        except (SpecError, DataError) as exc:
            raise from_trainer_error(exc) from None
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
        fetch_seconds = time.perf_counter() - started
        return ValidationReport(
            estimate=self._estimate(spec, dataset.frame, fetch_seconds),
            valid=True,
            resolved=resolved,
            data=dataset.lineage(),
            profile=DataProfile.model_validate(report.profile),
            notes=report.notes,
        )


class StatusBodies:
    """The status JSON of the rows read last, by job id, up to ``size`` jobs (the oldest
    entry goes first). A body is reused only for a row equal to the one it was encoded from,
    field by field (``StatusRow`` is a dataclass): the response is a function of the row."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._bodies: OrderedDict[uuid.UUID, tuple[StatusRow, bytes]] = OrderedDict()

    def body(self, row: StatusRow) -> bytes:
        found = self._bodies.get(row.id)
        if found is not None and found[0] == row:
            self._bodies.move_to_end(row.id)
            return found[1]
        body = to_status(row).model_dump_json(by_alias=True).encode()
        self._bodies[row.id] = (row, body)
        self._bodies.move_to_end(row.id)
        if len(self._bodies) > self.size:
            self._bodies.popitem(last=False)
        return body


def _found_status(job_id: uuid.UUID, row: StatusRow | None) -> TrainingJobStatusResponse:
    """The status of a row read by id and tenant; no row: the job is not found."""
    if row is None:
        raise ResourceNotFoundError(f"training job {job_id} not found")
    return to_status(row)
