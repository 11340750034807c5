"""Settings: every knob is an environment variable with the prefix ``TRAINYARD_``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_list(value: Any) -> Any:
    """Accept ``a,b`` (and a JSON list) for list settings given as one environment string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINYARD_", extra="ignore")

    database_url: str = "sqlite:///./var/trainyard.db"
    executor: Literal["local", "celery"] = "local"
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "training"

    max_concurrent_jobs: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    spare_processes: int | None = Field(
        default=None,
        ge=0,
        description="Attempt processes the local executor keeps forked and prepared before a "
        "job is claimed; default MAX_CONCURRENT_JOBS, one more with the registry's images on (a "
        "kept process draws its job's evaluation images after the outcome, while the next job "
        "runs in another), 0 forks each attempt when it is claimed.",
    )
    attempts_per_process: int = Field(
        default=50,
        ge=1,
        description="Attempts one spare process of the local executor may run, one after the "
        "other, before it exits and a fresh one takes its place; 1 gives every attempt a new "
        "process. A process is kept only after an attempt that recorded its outcome, set no "
        "memory limit and left no child process running (docs/architecture.md).",
    )
    data_roots: Annotated[list[Path], NoDecode] = [Path("./data")]
    artifact_root: Path = Path("./var/artifacts")
    # The model registry: a local MLflow store by default; "" turns the registry off.
    mlflow_tracking_uri: str = "sqlite:///./var/mlflow.db"

    # Execution: leases, retries, limits.
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    reaper_interval_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=2, ge=1)
    estimate_overhead_seconds: float = Field(
        default=0.3,
        ge=0,
        description="A job's fixed cost beyond reading its data and fitting (starting its "
        "process, storing artifacts, the registry) that the dry run's estimate adds; "
        "measured by bench/estimate.py on this service.",
    )
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    default_max_runtime_seconds: int = Field(default=3600, ge=1)
    max_runtime_seconds_limit: int = Field(default=86400, ge=1)
    max_n_jobs: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_memory_limit_mb: int = Field(default=16384, ge=64)
    max_search_fits: int = Field(default=2000, ge=1)

    # Data limits.
    max_rows: int = Field(default=10_000_000, ge=1)
    max_bytes: int = Field(default=2 * 1024**3, ge=1)

    # "<tenant>:<sha256 hex of the key>" entries; empty leaves the API open (see app/auth.py).
    api_keys: Annotated[list[str], NoDecode] = []
    metrics_require_key: bool = False
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_pending_jobs_per_tenant: int = Field(default=1000, ge=1)
    # Retention: finished jobs older than this many days are deleted (None: kept for ever).
    retention_days: float | None = Field(default=None, gt=0)
    retention_interval_seconds: float = Field(default=300.0, gt=0)
    retention_batch_size: int = Field(default=100, ge=1, le=10_000)
    # Upper bounds on estimator parameters that set the amount of work of one fit.
    parameter_caps: dict[str, float] = {
        "n_estimators": 5000,
        "max_iter": 100_000,
        "n_iter": 100_000,
        "max_depth": 1000,
        "max_leaf_nodes": 1_000_000,
        "n_neighbors": 10_000,
        "hidden_layer_sizes": 10_000,
    }

    # Logging: JSON lines (one object per line, job_id on job lines) or plain text.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Celery executor: a pending job whose message may have been lost (the API died between
    # the commit and the publish, the broker lost its data) is published again after this long.
    celery_republish_after_seconds: float = Field(default=120.0, gt=0)

    # Model registry (MLflow) and predictions.
    mlflow_artifact_root: Path = Path("./var/mlruns")
    # Where MLflow's own web UI answers (`make mlflow-ui`); the dashboard links a job's run
    # there when set. Empty: no link.
    mlflow_ui_url: str = ""
    mlflow_model_alias: str = Field(default="candidate", pattern=r"^[A-Za-z0-9_-]*$")
    mlflow_evaluation_images: bool = Field(
        default=True,
        description="Draw the evaluation report's images (confusion matrix, curves, feature "
        "importance) into each job's MLflow run after its outcome is recorded. For a small "
        "job they cost about as much CPU as the rest of the run, beside the next job; false "
        "logs the report's JSON alone.",
    )
    prediction_cache_models: int = Field(default=16, ge=1)
    prediction_cache_bytes: int = Field(default=512 * 1024**2, ge=1)
    max_prediction_rows: int = Field(default=10_000, ge=1)

    # The evaluation report's permutation feature importance: its time budget per job (0 turns
    # it off) and the validation rows it permutes at most.
    evaluation_importance_seconds: float = Field(default=5.0, ge=0)
    evaluation_importance_rows: int = Field(default=2000, ge=1)

    @field_validator("data_roots", "api_keys", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    # Data sources and uploads (see app/clients/data_layer.py and app/clients/url_policy.py).
    data_allowed_hosts: Annotated[list[str], NoDecode] = []
    s3_allowed_buckets: Annotated[list[str], NoDecode] = []
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = Field(default="", repr=False)
    remote_timeout_seconds: float = Field(default=30.0, gt=0)
    data_layer_client: str = ""
    max_upload_bytes: int = Field(default=512 * 1024**2, ge=1)

    # Event streams (app/streams): how often one shared reader looks at the database for all
    # open streams (on PostgreSQL a NOTIFY wakes it sooner, and this is only the fallback),
    # and how often an idle stream sends a comment so proxies keep it open.
    stream_poll_seconds: float = Field(default=0.5, gt=0)
    stream_fallback_poll_seconds: float = Field(default=5.0, gt=0)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)

    # Webhooks (app/webhooks): receivers' hosts (the syntax of data_allowed_hosts), tries and
    # the backoff between them (doubling from the base, with jitter, up to the cap).
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = []
    webhook_max_tries: int = Field(default=8, ge=1)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)

    @field_validator(
        "data_allowed_hosts", "s3_allowed_buckets", "webhook_allowed_hosts", mode="before"
    )
    @classmethod
    def _split_data_lists(cls, value: Any) -> Any:
        return _split_list(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
