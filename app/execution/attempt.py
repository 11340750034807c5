"""One attempt of one job, run inside a child process.

The forkserver imports this module once (and with it scikit-learn, pandas and the trainer),
so starting an attempt costs a fork, not an import. The child leads its own process group:
the supervisor kills the whole group, joblib workers included.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd  # noqa: F401  (preloaded for the forkserver)
import sklearn  # noqa: F401

from app.config import Settings
from app.core.db import create_db_engine
from app.core.exceptions import ModelRegistryError, TrainyardError, from_trainer_error
from app.execution.child import Keeper, close_pipe, enter_child, limit_memory
from app.execution.estimates import job_estimate, with_actual
from app.execution.payload import AttemptPayload
from app.execution.registration import RegistryRun, open_registry
from app.execution.stages import EXIT_LOST_CLAIM, LostClaim, StageWriter
from app.integrations.data_layer import DataLayerClientInterface, build_data_client
from app.integrations.registry.interface import ModelRegistryClientInterface
from app.jobs.lifecycle import STAGE_PROGRESS, JobStage, JobStatus
from app.jobs.logs import end_attempt_log, start_attempt_log
from app.jobs.models import TrainingJob
from app.jobs.repository import JobRepository
from app.jobs.schemas import TrainingJobRequest
from app.jobs.spec import jsonable, requested_columns, training_spec
from app.trainer import DataError, SpecError, train
from app.trainer.algorithms import registry
from app.trainer.artifacts import MODEL_FILE, write_artifacts
from app.trainer.errors import TrainingError
from app.trainer.progress import EtaMeter

logger = logging.getLogger(__name__)


# Build the estimator allow-list once per process (in the forkserver: before any fork).
registry()

_STAGE_SPAN = {
    JobStage.TRAINING: (STAGE_PROGRESS[JobStage.TRAINING], STAGE_PROGRESS[JobStage.EVALUATING]),
    JobStage.TUNING: (STAGE_PROGRESS[JobStage.TUNING], STAGE_PROGRESS[JobStage.EVALUATING]),
    JobStage.PREPROCESSING: (
        STAGE_PROGRESS[JobStage.PREPROCESSING],
        STAGE_PROGRESS[JobStage.TRAINING],
    ),
    JobStage.EVALUATING: (
        STAGE_PROGRESS[JobStage.EVALUATING],
        STAGE_PROGRESS[JobStage.STORING_ARTIFACTS],
    ),
}
PROGRESS_WRITE_INTERVAL = 0.2
# What an attempt sends its supervisor once its final write is committed, when the process
# exits after it (it is not kept).
RECORDED = "recorded"
# The same, from a process that is kept but has work left after the write (the evaluation
# images): it says READY when that is done. Its supervisor frees the slot at once but does not
# start a spare in its place: the process comes back.
RECORDED_KEPT = "recorded, kept"
# What a spare sends once its attempt is over and it waits for the next job (an outcome
# already recorded; sent instead of RECORDED when nothing was left to do after the write).
READY = "ready"
__all__ = [
    "EXIT_LOST_CLAIM",
    "READY",
    "RECORDED",
    "RECORDED_KEPT",
    "AttemptRunner",
    "LostClaim",
    "run_attempt",
    "run_spare",
]


class AttemptRunner:
    """Runs the stages of one attempt and writes each step through the fenced repository
    (held for a moment and written together: ``StageWriter``)."""

    def __init__(
        self,
        repository: JobRepository,
        job: TrainingJob,
        attempt: int,
        settings: Settings,
        data_client: DataLayerClientInterface,
        registry_client: ModelRegistryClientInterface | None,
    ) -> None:
        self.repository = repository
        self.job = job
        self.job_id = job.id
        self.attempt = attempt
        self.writer = StageWriter(repository, job.id, attempt)
        self.settings = settings
        self.data_client = data_client
        self.registry_client = registry_client
        self.stage = JobStage.FETCHING_DATA
        self.tenant = job.tenant
        self.log_trials = False
        self._last_write = 0.0
        self.registry_run: RegistryRun | None = None
        # The registry run is started in a thread of its own while the data is fetched and
        # the model trained; whoever needs the run joins it first (``_registry_ready``).
        self._registry_thread: threading.Thread | None = None
        self._registry_error: BaseException | None = None
        # The stage and the step written with it are read and written together: the
        # registry thread writes the run's id at the stage the attempt is in.
        self._step_lock = threading.Lock()
        self.eta = EtaMeter()
        self.recorded = False  # the final write committed
        self.estimate: dict[str, Any] | None = None

    def enter(self, stage: JobStage, message: str | None = None, **fields: Any) -> None:
        logger.info("stage %s%s", stage.value, f": {message}" if message else "")
        fields = {**fields, "eta_seconds": None}
        with self._step_lock:
            new = stage is not self.stage
            self.stage = stage
            self._write(stage, STAGE_PROGRESS[stage], message, new_stage=new, fields=fields)

    def _write(
        self,
        stage: JobStage,
        progress: float,
        message: str | None,
        *,
        new_stage: bool,
        fields: dict[str, Any] | None = None,
        now: bool = False,
    ) -> None:
        self.writer.step(stage, progress, message, new_stage=new_stage, fields=fields, now=now)
        self._last_write = time.monotonic()

    def on_progress(self, stage_name: str, fraction: float, message: str | None) -> None:
        stage = JobStage(stage_name)
        low, high = _STAGE_SPAN.get(stage, (STAGE_PROGRESS[stage], STAGE_PROGRESS[stage]))
        progress = low + (high - low) * max(0.0, min(1.0, fraction))
        eta = self.eta.update(stage.value, fraction)
        new = stage is not self.stage
        throttled = time.monotonic() - self._last_write < PROGRESS_WRITE_INTERVAL
        if not new and throttled and fraction < 1.0 and message is None:
            return
        if new:
            logger.info("stage %s%s", stage.value, f": {message}" if message else "")
        with self._step_lock:
            self.stage = stage
            self._write(stage, progress, message, new_stage=new, fields={"eta_seconds": eta})

    def _store_estimate(self) -> None:
        """Write the estimate made after the stage was entered, at the stage the attempt is in."""
        with self._step_lock:
            self._write(
                self.stage,
                self.writer.progress,
                None,
                new_stage=False,
                fields={"estimate": self.estimate},
            )

    def on_trial(self, trial: dict[str, Any]) -> None:
        clean = {**trial, "params": jsonable(trial["params"])}
        self.writer.flush()  # the row's stage and progress first, then the trial
        if not self.repository.add_trial(self.job_id, self.attempt, clean):
            raise LostClaim()
        if self.log_trials and self.registry_run is not None:
            try:
                self.registry_run.log_trial(clean)
            except Exception as exc:  # the trial is recorded; its child run is a courtesy
                logger.warning("trial %s not logged to the registry: %s", trial["number"], exc)

    def log_trial(self, trial: dict[str, Any]) -> None:
        if self.registry_run is None:
            return
        try:
            self.registry_run.log_trial(trial)
        except Exception as exc:  # the trial is recorded; its child run is a courtesy
            logger.warning("trial %s not logged to the registry: %s", trial["number"], exc)

    def run(self, request: TrainingJobRequest) -> None:
        tuning = request.hyperparameter_tuning_config
        self.log_trials = tuning is not None and tuning.log_trials
        spec = training_spec(request, self.settings)
        self._start_registry_run(request)
        started = time.perf_counter()
        dataset = self.data_client.fetch(
            request.data_source_config, columns=requested_columns(request)
        )
        lineage = dataset.lineage()
        job = self.job
        self.estimate = job.estimate  # a resumed attempt keeps the first attempt's
        fetch_seconds = time.perf_counter() - started

        def search_estimate() -> dict[str, Any] | None:
            if self.estimate is None:
                self.estimate = job_estimate(spec, dataset.frame, self.settings, fetch_seconds)
                if self.estimate is not None:
                    self._store_estimate()
            return self.estimate

        if self.estimate is None and tuning is None:
            self.estimate = job_estimate(spec, dataset.frame, self.settings, fetch_seconds)
        self.enter(
            JobStage.PREPROCESSING,
            f"read {lineage['rows']} rows x {lineage['columns']} columns",
            data_lineage=lineage,
            estimate=self.estimate,
        )
        search = None
        if tuning is not None:
            from app.execution.trials import DistributedSearch, imported_trials

            if self.log_trials:
                self._registry_ready()  # the trials' runs are children of the job's run

            search = DistributedSearch(
                self.repository,
                self.job_id,
                self.attempt,
                self.settings,
                imported=imported_trials(self.repository, tuning.warm_start_from),
                log_trial=self.log_trial if self.log_trials else None,
                # A search's probes wait until its units exist: the other slots start on
                # trials meanwhile instead of idling while this one times its probes.
                on_units=search_estimate,
            )
        result = train(spec, dataset.frame, self.on_progress, self.on_trial, search=search)
        lineage.update(result.rows)

        self.enter(JobStage.STORING_ARTIFACTS)
        directory = Path(self.settings.artifact_root).resolve() / str(self.job_id)
        resolved = {
            "request": request.model_dump(mode="json"),
            "task": result.task,
            "estimator_parameters": jsonable(result.parameters),
            "feature_columns": result.feature_columns,
            "classes": result.classes,
            "attempt": self.attempt,
        }
        write_artifacts(
            directory,
            result.pipeline,
            metrics=result.metrics,
            spec=resolved,
            lineage=lineage,
            evaluation=result.evaluation,
        )
        registry_info: dict[str, Any] | None = None
        if self.registry_client is not None:
            self.enter(JobStage.REGISTERING)
            registry_info = self._register(request, result, dataset.frame, directory)
        notes = "; ".join(result.notes)
        message = f"trained {spec.algorithm} in {result.fit_seconds:.2f}s" + (
            f"; {notes}" if notes else ""
        )
        logger.info("completed: %s; metrics %s", message, result.metrics)
        self.recorded = self.writer.finish(
            status=JobStatus.COMPLETED,
            stage=JobStage.DONE,
            message=message,
            fields={
                "metrics": result.metrics,
                "best_hyperparameters": jsonable(result.best_hyperparameters)
                if result.best_hyperparameters is not None
                else None,
                "artifacts_location": (registry_info or {}).get("model_uri") or str(directory),
                "registry_info": registry_info,
                "data_lineage": lineage,
                "estimate": with_actual(self.estimate, job, result.fit_seconds),
            },
        )
        if not self.recorded:
            raise LostClaim()

    def _start_registry_run(self, request: TrainingJobRequest) -> None:
        """Start the registry run beside the data's fetch and the training: its store calls
        (experiment, run, the id written on the job) are off the job's path, on a core the
        training leaves free or while it waits outside the interpreter."""
        if self.registry_client is None:
            return

        def begin() -> None:
            try:
                self._begin_registry_run(request)
            except BaseException as exc:  # raised in the attempt's thread when it joins
                self._registry_error = exc

        self._registry_thread = threading.Thread(
            target=begin, name="trainyard-registry-run", daemon=True
        )
        self._registry_thread.start()

    def _registry_ready(self) -> None:
        """Wait for the registry thread; raise what it raised (e.g. ``LostClaim``)."""
        thread, self._registry_thread = self._registry_thread, None
        if thread is None:
            return
        thread.join()
        error, self._registry_error = self._registry_error, None
        if error is not None:
            raise error

    def _begin_registry_run(self, request: TrainingJobRequest, *, required: bool = False) -> None:
        """Start the attempt's registry run and record its id on the job at once.

        Best effort: when the registry does not answer now, training goes on and the run
        is started again in stage `registering`, where a failure fails the job.
        """
        if self.registry_client is None:
            return
        run = RegistryRun(self.registry_client, self.job_id, self.attempt)
        try:
            run.begin(self.job, request)
        except ModelRegistryError as exc:
            run.end_quietly("FAILED")
            if required:
                raise
            logger.warning("job %s: registry run not started yet: %s", self.job_id, exc.message)
            return
        self.registry_run = run
        with self._step_lock:
            self._write(
                self.stage,
                STAGE_PROGRESS[self.stage],
                None,
                new_stage=False,
                fields={"registry_info": run.info()},
                now=True,  # the supervisor ends the run of a process it kills: it must see it
            )

    def _register(
        self, request: TrainingJobRequest, result: Any, frame: Any, directory: Path
    ) -> dict[str, Any]:
        self._registry_ready()
        if self.registry_run is None:
            self._begin_registry_run(request, required=True)
        assert self.registry_run is not None
        # The registry has no tenants: a tenant's models are registered under its own prefix.
        name = f"{self.tenant}.{request.model_name}" if self.tenant else request.model_name
        return self.registry_run.complete(name, result, frame, directory / MODEL_FILE)

    def fail(self, error_type: str, message: str) -> None:
        # Called from an except block: the log keeps the traceback the API shows in short.
        logger.error(
            "failed in stage %s: %s: %s", self.stage.value, error_type, message, exc_info=True
        )
        try:
            self._registry_ready()  # so that a run being started is ended FAILED too
        except Exception as exc:
            logger.warning("job %s: registry run not started: %s", self.job_id, exc)
        if self.registry_run is not None:
            self.registry_run.end_quietly("FAILED")
        self.recorded = self.writer.finish(
            status=JobStatus.FAILED,
            message=f"{error_type} in stage {self.stage.value}: {message}",
            error=(error_type, self.stage.value, message),
        )


def _prepare(payload: AttemptPayload) -> tuple[Settings, JobRepository]:
    """What an attempt does before it knows its job: its own process group, dying with its
    parent and its supervisor, the settings, and a database engine whose first statements
    (connection, dialect set-up, compiling the fenced writes) are already paid for."""
    enter_child(payload.supervisor_pid)
    settings = Settings(**payload.settings)
    return settings, JobRepository(create_db_engine(settings.database_url))


def _warm(repository: JobRepository) -> None:
    """Connect and run the attempt's first read once, on an id no job has. Its writes are not
    rehearsed: on SQLite even a write that matches nothing takes the database's write lock,
    which the running attempts (this spare is made while one starts) would wait for."""
    repository.get_job(uuid.uuid4())


def run_attempt(job_id: str, attempt: int, payload: AttemptPayload, report: Any = None) -> None:
    """Entry point of the child process; ``report``: the pipe to tell the supervisor on."""
    settings, repository = _prepare(payload)
    _run(job_id, attempt, payload, settings, repository, report)
    repository.engine.dispose()
    close_pipe(report)


def run_spare(handoff: Any, payload: AttemptPayload) -> None:
    """Entry point of a spare child: prepare, then run the attempts it is told, one after the
    other, until it is told None or an attempt leaves the process unfit to keep (``Keeper``)."""
    settings, repository = _prepare(payload)
    try:
        _warm(repository)
        open_registry(payload.model_registry_client)
    except Exception:  # an optimisation only; the attempt's own writes will tell
        logger.debug("warming the spare attempt failed", exc_info=True)
    keeper = Keeper(settings.attempts_per_process)
    while True:
        try:
            told = handoff.recv()
        except EOFError:
            told = None
        if told is None:
            break
        job_id, attempt = told
        keeper.before()
        if not _run(job_id, attempt, payload, settings, repository, handoff, keeper=keeper):
            break
        try:
            handoff.send(READY)
        except OSError:  # the supervisor is gone
            break
    repository.engine.dispose()
    close_pipe(handoff)


def _run(
    job_id: str,
    attempt: int,
    payload: AttemptPayload,
    settings: Settings,
    repository: JobRepository,
    report: Any = None,
    *,
    keeper: Keeper | None = None,
) -> bool:
    """One attempt; True when ``keeper`` keeps the process for another. Exits the process
    when the claim is lost."""
    job_uuid = uuid.UUID(job_id)
    start_attempt_log(settings.artifact_root, job_id, attempt, server_format=settings.log_format)
    logger.info("attempt %s of job %s started in process %s", attempt, job_id, os.getpid())
    job = repository.get_job(job_uuid)
    if job is None or job.attempt != attempt:
        os._exit(EXIT_LOST_CLAIM)
    request = TrainingJobRequest.model_validate(job.request)
    data_client = payload.data_layer_client or build_data_client(settings)
    runner = AttemptRunner(
        repository, job, attempt, settings, data_client, payload.model_registry_client
    )
    resources = request.resource_config
    memory_mb = resources.memory_limit_mb if resources else None
    out_of_memory = False
    try:
        if memory_mb:
            limit_memory(memory_mb)
        runner.run(request)
    except LostClaim:
        os._exit(EXIT_LOST_CLAIM)
    except MemoryError:
        out_of_memory = True
        # Free what we can before writing: the write itself needs memory.
        import gc

        gc.collect()
        runner.fail(
            "MemoryLimitExceeded",
            f"the training process ran out of memory (memory_limit_mb={memory_mb})"
            if memory_mb
            else "the training process ran out of memory",
        )
    except (SpecError, DataError, TrainingError) as exc:
        error = from_trainer_error(exc)
        runner.fail(type(error).__name__, exc.message)
    except TrainyardError as exc:
        runner.fail(type(exc).__name__, exc.message)
    except Exception as exc:
        runner.fail("TrainingJobError", f"{type(exc).__name__}: {exc}")
    keep = keeper is not None and keeper.after(
        recorded=runner.recorded, memory_limited=bool(memory_mb) or out_of_memory
    )
    images = runner.registry_run is not None and runner.registry_run.has_images
    if runner.recorded and report is not None and not (keep and not images):
        # Tell the supervisor now: its slot takes the next job while this process draws the
        # images, then exits or (kept) says READY. With nothing left to do, a kept process says
        # READY at once instead: its supervisor gives it back before the slot takes a job.
        _report_recorded(report, RECORDED_KEPT if keep else RECORDED)
    if runner.recorded and runner.registry_run is not None:
        runner.registry_run.log_images()
    end_attempt_log()
    return keep


def _report_recorded(report: Any, word: str) -> None:
    """Tell the supervisor the outcome is committed: its slot may take the next job while
    this process finishes (the supervisor still waits for it and kills its group, unless the
    process says READY: then it is kept for another attempt). ``RECORDED_KEPT`` says that
    READY will follow."""
    try:
        report.send(word)
    except OSError:  # the supervisor is gone; the row says what happened
        pass
