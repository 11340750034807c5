"""An attempt's run in the model registry: started with the attempt, ended to match the job.

The training process starts the run as the attempt starts (so a job that fails or is
cancelled still has a run, FAILED or KILLED), logs params, metrics and the model, registers
a version, and ends the run. A process killed by its supervisor cannot end its own run, so
the supervisor ends it after recording the job's outcome, reading the run id from the job
row (``registry_info``), where the process put it as soon as the run existed.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from app.core.exceptions import ModelRegistryError
from app.execution.forkserver import preload_first
from app.integrations.registry.interface import ModelRegistryClientInterface, RunStatus
from app.integrations.registry.mlflow import MlflowRegistryClient
from app.integrations.registry.mlmodel import pip_requirements
from app.jobs.lifecycle import AttemptOutcome, JobStatus, Reaped
from app.jobs.models import TrainingJob
from app.jobs.repository import JobRepository
from app.jobs.schemas import TrainingJobRequest
from app.trainer.artifacts import UntrustedModelError, model_requirements, trusted_types

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "Default"
MODEL_ARTIFACT = "model"
INPUT_EXAMPLE_ROWS = 5
RESERVED_TAG_PREFIXES = ("mlflow.", "trainyard.")


def default_registry_client(settings: Settings) -> ModelRegistryClientInterface | None:
    """The MLflow client the settings name, or None when the registry is off."""
    if not settings.mlflow_tracking_uri:
        return None
    return MlflowRegistryClient(
        settings.mlflow_tracking_uri,
        artifact_root=settings.mlflow_artifact_root,
        alias=settings.mlflow_model_alias,
        images=settings.mlflow_evaluation_images,
    )


def draws_images(client: ModelRegistryClientInterface | None) -> bool:
    """Whether a run of ``client`` gets the evaluation report's images, which the attempt's
    process draws after the job's outcome is recorded."""
    return isinstance(client, MlflowRegistryClient) and client.images


def prepare_registry(client: ModelRegistryClientInterface | None) -> None:
    """At start-up: create the local store once, and have the forkserver preload MLflow."""
    if not isinstance(client, MlflowRegistryClient):
        return
    preload_first("app.integrations.registry.preload")
    if client.images:
        preload_first("app.integrations.registry.preload_images")
    try:
        client.initialize()
    except ModelRegistryError as exc:
        # Jobs still train and keep their local artifacts; each fails in stage
        # `registering` with this message until the registry is fixed.
        logger.error("the model registry is not usable: %s", exc.message)


def open_registry(client: ModelRegistryClientInterface | None) -> None:
    """In a spare attempt process, before it is given a job: build the MLflow client and its
    stores (their schema checks and engines) and run the job's kinds of reads once, so that
    the job pays for neither."""
    if isinstance(client, MlflowRegistryClient):
        client.warm_up()


def _tag_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def run_tags(job: TrainingJob, attempt: int) -> dict[str, str]:
    tags = {
        "trainyard.job_id": str(job.id),
        "trainyard.model_name": job.model_name,
        "trainyard.model_version": job.model_version,
        "trainyard.algorithm": job.algorithm,
        "trainyard.attempt": str(attempt),
    }
    for key, value in (job.tags or {}).items():
        if key.startswith(RESERVED_TAG_PREFIXES):
            logger.warning("job %s: tag %r is reserved and not sent to the registry", job.id, key)
            continue
        tags[key] = _tag_value(value)
    return tags


def request_params(request: TrainingJobRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"algorithm": request.algorithm_config.name}
    params.update(request.algorithm_config.parameters)
    tuning = request.hyperparameter_tuning_config
    if tuning is not None:
        params["search.strategy"] = tuning.strategy
        params["search.max_trials"] = tuning.max_trials
        params["search.cv_folds"] = tuning.cv_folds
    return params


@dataclass
class RegistryRun:
    """The registry run of one attempt, as far as it got."""

    client: ModelRegistryClientInterface
    job_id: uuid.UUID
    attempt: int
    experiment_id: str | None = None
    run_id: str | None = None
    logged_params: set[str] = field(default_factory=set)
    # With MLflow the requested parameters wait for the run's one batch (or its end).
    pending_params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # The evaluation report whose images are drawn once the job's outcome is committed.
    images: dict[str, Any] | None = None

    def info(self, **extra: Any) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "attempt": self.attempt,
            **extra,
        }

    def begin(self, job: TrainingJob, request: TrainingJobRequest) -> None:
        """Get or create the experiment, start the run, log the requested parameters."""
        name = request.experiment_name or DEFAULT_EXPERIMENT
        self.experiment_id = self.client.get_or_create_experiment(name)
        self.tags = run_tags(job, self.attempt)
        self.run_id = self.client.start_run(
            self.experiment_id, f"trainyard-job-{job.id}", self.tags
        )
        if isinstance(self.client, MlflowRegistryClient):
            self.pending_params = request_params(request)
        else:
            self.log_params(request_params(request))

    def log_params(self, params: dict[str, Any]) -> None:
        fresh = {k: v for k, v in params.items() if k not in self.logged_params}
        if fresh and self.run_id is not None:
            self.client.log_params(self.run_id, fresh)
            self.logged_params.update(fresh)

    def complete(
        self, model_name: str, result: Any, frame: Any, model_file: Path | None = None
    ) -> dict[str, Any]:
        """Log what training produced, register a version, end the run FINISHED."""
        assert self.run_id is not None
        resolved = {k: v for k, v in result.parameters.items() if k != "n_jobs"}
        best = {f"best.{k}": v for k, v in (result.best_hyperparameters or {}).items()}
        # A requested value wins over the resolved one of the same name (MLflow keeps the first).
        merged = {**resolved, **best, **self.pending_params}
        params = {k: v for k, v in merged.items() if k not in self.logged_params}
        metrics = {**result.metrics, "fit_seconds": float(result.fit_seconds)}
        example = frame[result.feature_columns].head(INPUT_EXAMPLE_ROWS)
        if isinstance(self.client, MlflowRegistryClient) and model_file is not None:
            self.client.log_batch(self.run_id, params, metrics)
            self.logged_params.update(params)
            self.pending_params = {}
            logged_uri = self._log_model_file(self.client, result, example, model_file, merged)
        else:
            self.log_params(params)
            self.pending_params = {}
            self.client.log_metrics(self.run_id, metrics)
            logged_uri = self.client.log_model(
                self.run_id, result.pipeline, name=MODEL_ARTIFACT, input_example=example
            )
        evaluation = getattr(result, "evaluation", None)
        if isinstance(self.client, MlflowRegistryClient) and evaluation is not None:
            report = {"job_id": str(self.job_id), **evaluation}
            self.client.log_evaluation(self.run_id, report)
            if draws_images(self.client):
                self.images = report
        if isinstance(self.client, MlflowRegistryClient):
            trainyard_tags = {k: v for k, v in self.tags.items() if k.startswith("trainyard.")}
            version = self.client.register_model(
                logged_uri, model_name, run_id=self.run_id, tags=trainyard_tags
            )
        else:
            version = self.client.register_model(logged_uri, model_name, run_id=self.run_id)
        self.client.end_run(self.run_id, "FINISHED")
        return self.info(
            model_uri=f"models:/{model_name}/{version}",
            registered_version=version,
            logged_model_uri=logged_uri,
        )

    @property
    def has_images(self) -> bool:
        """Whether ``log_images`` has images to draw."""
        return self.images is not None and self.run_id is not None and draws_images(self.client)

    def log_images(self) -> None:
        """Draw the evaluation report's images and add them to the run. Called after the
        job's outcome is committed: they are a view of the report already logged, and
        drawing them (matplotlib; about what the rest of the run costs a small job, on the
        process's kept canvases) is no reason to keep a job from completing. A failure is
        logged, nothing else."""
        report, self.images = self.images, None
        if report is None or self.run_id is None:
            return
        if not isinstance(self.client, MlflowRegistryClient):
            return
        try:
            self.client.log_evaluation_images(self.run_id, report)
        except Exception as exc:
            logger.warning("job %s: evaluation images not logged: %s", self.job_id, exc)

    def _log_model_file(
        self,
        client: MlflowRegistryClient,
        result: Any,
        example: Any,
        model_file: Path,
        params: dict[str, Any],
    ) -> str:
        """The saved skops file as the run's model, with its types checked against the
        reviewed list and a signature from a few rows (one small predict, no model load)."""
        from mlflow.models import infer_signature

        assert self.run_id is not None
        try:
            trusted = trusted_types(model_file)
        except UntrustedModelError as exc:
            raise ModelRegistryError(f"the model cannot be logged safely: {exc}") from exc
        signature = infer_signature(example, result.pipeline.predict(example))
        return client.log_model_file(
            self.run_id,
            model_file,
            name=MODEL_ARTIFACT,
            trusted_types=trusted,
            requirements=pip_requirements() + model_requirements(result.pipeline),
            signature=signature,
            experiment_id=self.experiment_id,
            params={k: str(v) for k, v in params.items()},
            tags={k: v for k, v in self.tags.items() if k.startswith("trainyard.")},
        )

    def log_trial(self, trial: dict[str, Any]) -> None:
        """One search trial as a child run of this run (MLflow's nested runs)."""
        if self.run_id is None or self.experiment_id is None:
            return
        child = self.client.start_run(
            self.experiment_id,
            f"trial-{trial['number']}",
            {
                "mlflow.parentRunId": self.run_id,
                "trainyard.job_id": str(self.job_id),
                "trainyard.attempt": str(self.attempt),
                "trainyard.trial": str(trial["number"]),
                "trainyard.trial_state": trial["state"],
            },
        )
        self.client.log_params(child, dict(trial["params"]))
        metrics = {
            name: float(trial[name])
            for name in ("mean_score", "std_score", "duration_seconds")
            if trial.get(name) is not None
        }
        if metrics:
            self.client.log_metrics(child, metrics)
        states: dict[str, RunStatus] = {"complete": "FINISHED", "pruned": "KILLED"}
        self.client.end_run(child, states.get(trial["state"], "FAILED"))

    def end_quietly(self, status: RunStatus) -> None:
        if self.run_id is None:
            return
        try:
            if self.pending_params:
                self.log_params(self.pending_params)
                self.pending_params = {}
            self.client.end_run(self.run_id, status)
        except Exception as exc:
            logger.warning(
                "job %s: could not end registry run %s: %s", self.job_id, self.run_id, exc
            )


def close_attempt_run(
    repository: JobRepository,
    client: ModelRegistryClientInterface | None,
    job_id: uuid.UUID,
    attempt: int,
    *,
    shutdown: bool = False,
) -> RunStatus | None:
    """After the attempt's process is gone, end its run to match what the job row says.

    Safe to repeat, and a no-op for a completed job (its process ended the run FINISHED
    before recording the job). Returns the status it set, if any.
    """
    if client is None:
        return None
    job = repository.get_job(job_id)
    if job is None:
        return None
    registry = dict(job.registry_info or {})
    job_status = job.status
    run_id = registry.get("run_id")
    if not run_id or registry.get("attempt") != attempt:
        return None
    status: RunStatus
    if job_status == JobStatus.COMPLETED.value:
        return None
    if job_status == JobStatus.CANCELLED.value or shutdown:
        status = "KILLED"
    else:
        status = "FAILED"
    try:
        client.end_run(str(run_id), status)
    except Exception as exc:
        logger.warning("job %s: could not mark registry run %s %s: %s", job_id, run_id, status, exc)
        return None
    return status


def end_reaped_runs(client: ModelRegistryClientInterface | None, reaped: list[Reaped]) -> None:
    """End the registry runs of attempts the reaper took back: a worker killed outright
    (``kill -9``, a lost machine) never ends its own. FAILED when the job failed for it,
    KILLED when another attempt goes on."""
    if client is None:
        return
    for item in reaped:
        if item.registry_run_id is None:
            continue
        status: RunStatus = "FAILED" if item.outcome is AttemptOutcome.FAILED else "KILLED"
        try:
            client.end_run(item.registry_run_id, status)
        except Exception as exc:
            logger.warning(
                "job %s: could not mark registry run %s %s: %s",
                item.job_id,
                item.registry_run_id,
                status,
                exc,
            )
