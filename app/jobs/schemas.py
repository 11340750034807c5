"""Request and response schemas of the service layer (the seed's ``ml_models_schemas``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from app.core.schemas import StrictModel
from app.integrations.data_layer.config import DataSourceConfig
from app.jobs.evaluation_schemas import EvaluationReport as EvaluationReport
from app.jobs.lifecycle import JobStage, JobStatus

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
TaskType = Literal["classification", "regression"]


class AlgorithmConfig(StrictModel):
    """Which estimator to train, and its constructor parameters."""

    name: str = Field(
        min_length=1,
        max_length=128,
        description="Estimator class name; `GET /v1/algorithms` lists them.",
        examples=["RandomForestClassifier"],
    )
    framework: Literal["scikit-learn"] = "scikit-learn"
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    task: TaskType | None = Field(
        default=None, description="Inferred from the estimator; if given it must agree."
    )

    @field_validator("framework", mode="before")
    @classmethod
    def _framework_alias(cls, value: Any) -> Any:
        return "scikit-learn" if value == "sklearn" else value


class IntDistribution(StrictModel):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> IntDistribution:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        if self.log and self.low < 1:
            raise ValueError("a log-scaled range needs low >= 1")
        return self


class FloatDistribution(StrictModel):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatDistribution:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        if self.log and self.low <= 0:
            raise ValueError("a log-scaled range needs low > 0")
        return self


class CategoricalDistribution(StrictModel):
    type: Literal["categorical"]
    choices: list[JsonValue] = Field(min_length=1)


Distribution = Annotated[
    IntDistribution | FloatDistribution | CategoricalDistribution, Field(discriminator="type")
]
SearchDimension = list[JsonValue] | Distribution


class HyperparameterTuningConfig(StrictModel):
    """An optional hyperparameter search; the best configuration is refitted at the end."""

    strategy: Literal["grid", "random", "bayesian", "halving"] = "random"
    search_space: dict[str, SearchDimension] = Field(
        min_length=1,
        description=(
            "Parameter name to a list of values, or to a distribution "
            '(`{"type": "int"|"float", "low", "high", "log"}`, '
            '`{"type": "categorical", "choices": [...]}`).'
        ),
    )
    objective_metric: str | None = Field(
        default=None, description="A scikit-learn scorer name; accuracy / r2 when omitted."
    )
    direction: Literal["maximize", "minimize"] | None = None
    max_trials: int = Field(default=10, ge=1, le=10_000)
    cv_folds: int = Field(default=3, ge=2, le=20)
    parallel_trials: int = Field(default=1, ge=1, le=64)
    timeout_seconds: int | None = Field(default=None, ge=1)
    early_stopping: bool = False
    random_state: int | None = None
    log_trials: bool = Field(
        default=False,
        description="With a model registry: log each trial as a child run of the job's run.",
    )
    warm_start_from: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Earlier completed jobs of the same tenant whose finished trials seed this "
        "search (same algorithm, parameter names, objective, folds and data fingerprint). "
        "They show in /trials as source=warm_start and count toward the best, not toward "
        "max_trials.",
    )

    @field_validator("search_space")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, dimension in value.items():
            if isinstance(dimension, list) and not dimension:
                raise ValueError(f"search_space.{name} lists no values")
        return value


class ResourceConfig(StrictModel):
    """Limits for one job."""

    max_runtime_seconds: int | None = Field(
        default=None, ge=1, description="Wall-clock limit of one attempt; the job fails past it."
    )
    memory_limit_mb: int | None = Field(
        default=None, ge=64, description="Memory the training process may allocate, in MiB."
    )
    n_jobs: int | None = Field(
        default=None,
        ge=-1,
        description="Cores for the estimator or search (-1: all allowed); capped by settings.",
    )

    @field_validator("n_jobs")
    @classmethod
    def _no_zero(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("n_jobs must be -1 or a positive number")
        return value


class EvaluationConfig(StrictModel):
    """How the held-out validation split is made."""

    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    random_state: int = Field(default=0, description="Seed of the split and of the estimator.")
    stratify: bool = Field(default=True, description="Stratify the split for classification.")


class PreprocessingConfig(StrictModel):
    """How feature columns are prepared inside the saved pipeline; automatic by default."""

    enabled: bool = Field(
        default=True, description="false: no preprocessing; every feature must be numeric."
    )
    numeric_imputation: Literal["mean", "median", "most_frequent"] = "median"
    scaler: Literal["auto", "standard", "minmax", "robust", "none"] = Field(
        default="auto",
        description="`auto`: standardise for estimators that need it (linear, SVM, kNN, MLP).",
    )
    categorical_imputation: Literal["most_frequent", "constant"] = Field(
        default="most_frequent", description="`constant` makes missing a category of its own."
    )
    encoder: Literal["auto", "onehot", "ordinal"] = Field(
        default="auto",
        description="auto: native categorical handling for XGBoost, LightGBM and CatBoost, "
        "one-hot for the others. Unknown categories are ignored (one-hot), -1 (ordinal) or "
        "left to the library (auto, for boosting).",
    )
    max_categories: int | None = Field(
        default=None, ge=2, le=10_000, description="Rarer categories are grouped together."
    )


class TrainingJobRequest(StrictModel):
    """A training job as submitted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "model_name": "iris-classifier",
                    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
                    "algorithm_config": {
                        "name": "RandomForestClassifier",
                        "parameters": {"n_estimators": 100, "random_state": 42},
                    },
                    "experiment_name": "iris",
                    "tags": {"team": "research"},
                }
            ]
        },
    )

    model_name: Name
    model_version: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
        description="Defaults to the next integer for this model name: `1`, `2`, ...",
    )
    data_source_config: DataSourceConfig
    algorithm_config: AlgorithmConfig
    hyperparameter_tuning_config: HyperparameterTuningConfig | None = None
    resource_config: ResourceConfig | None = None
    evaluation_config: EvaluationConfig = Field(default_factory=EvaluationConfig)
    experiment_name: str | None = Field(default=None, min_length=1, max_length=256)
    tags: dict[str, JsonValue] | None = None
    preprocessing: PreprocessingConfig | None = Field(
        default=None, description="Feature preprocessing; automatic when omitted."
    )

    @field_validator("tags")
    @classmethod
    def _bounded_tags(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            if len(value) > 50:
                raise ValueError("at most 50 tags")
            long_keys = [k for k in value if not 0 < len(k) <= 250]
            if long_keys:
                raise ValueError("tag names must be 1 to 250 characters long")
        return value


class JobError(BaseModel):
    type: str
    stage: str | None
    message: str


class RegistryInfo(BaseModel):
    experiment_id: str | None = None
    run_id: str | None = None
    model_uri: str | None = None
    registered_version: str | None = None


class TrainingJobStatusResponse(BaseModel):
    """Where a job stands."""

    job_id: uuid.UUID
    model_name: str
    model_version: str
    algorithm: str
    status: JobStatus
    stage: JobStage
    message: str | None = None
    progress: float = Field(ge=0, le=100)
    estimate: JobEstimate | None = Field(
        default=None,
        description="The estimate made when the attempt read its data, and the actual "
        "figures beside it once the job ended.",
    )
    eta_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Seconds left in the current fit or search, from the rate measured so far; "
        "null when no rate is known (an estimator that cannot report inside its fit).",
    )
    metrics: dict[str, float] | None = None
    best_hyperparameters: dict[str, Any] | None = None
    artifacts_location: str | None = None
    experiment_name: str | None = None
    tags: dict[str, Any] | None = None
    error: JobError | None = None
    registry: RegistryInfo | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="Lineage of the data used: fingerprint, rows, columns."
    )
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    completed_at: datetime | None = None
    attempt: int


class TrainingJobList(BaseModel):
    items: list[TrainingJobStatusResponse]
    next_page_token: str | None = Field(
        default=None,
        description="Pass as `page_token` for the next page (same filters); null on the last.",
    )
    total: int | None = Field(
        default=None, description="How many jobs match, only with `include_total=true`."
    )
    limit: int
    offset: int


class TrialResponse(BaseModel):
    number: int = Field(
        description="The trial's number in its search; imported (warm start) trials count "
        "down from -1."
    )
    attempt: int | None = Field(
        default=None, description="The job attempt during which it finished (None: not yet)."
    )
    params: dict[str, Any]
    state: Literal["pending", "running", "complete", "pruned", "failed"]
    mean_score: float | None = None
    std_score: float | None = None
    fold_scores: list[float] = Field(default_factory=list)
    resource: int | None = Field(
        default=None, description="Training rows used (successive halving rounds)."
    )
    error: str | None = None
    duration_seconds: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = Field(
        default=None, description="Where it ran or runs: the slot's host and process."
    )
    source: Literal["search", "warm_start"] = Field(
        default="search", description="warm_start: imported from an earlier job."
    )

    @classmethod
    def of(cls, row: Any) -> TrialResponse:
        """From a finished ``trial`` row or a ``search_trial`` unit still waiting or running."""
        if hasattr(row, "mean_score"):
            return cls.model_validate(row, from_attributes=True)
        return cls(
            number=row.number,
            params=row.params,
            state=row.state,
            resource=row.resource,
            started_at=row.started_at if row.state == "running" else None,
            worker=row.worker if row.state == "running" else None,
        )


class JobEventResponse(BaseModel):
    created_at: datetime
    status: JobStatus
    stage: JobStage
    progress: float
    attempt: int
    message: str | None = None


class ColumnProfile(BaseModel):
    name: str
    dtype: str
    kind: Literal["numeric", "categorical", "datetime", "target"]
    missing: int
    distinct: int


class DataProfile(BaseModel):
    rows: int
    columns: int
    rows_dropped_missing_target: int
    column_profiles: list[ColumnProfile]
    class_balance: dict[str, int] | None = Field(
        default=None, description="Rows per class of the target (classification)."
    )
    target_summary: dict[str, float] | None = Field(
        default=None, description="min, max, mean, std of the target (regression)."
    )


class JobEstimate(BaseModel):
    """How long the job should take, from timed fits on subsamples of its data."""

    fit_seconds: float = Field(description="One fit of the model on the training split.")
    evaluation_seconds: float | None = Field(
        default=None,
        description="Evaluating the final model on the holdout: metrics, report and its "
        "permutation importance (null in estimates stored before it was given).",
    )
    peak_memory_mb: float = Field(description="Python-visible peak of a fit, plus the data.")
    trials: int = Field(description="Search trials (0 without a search).")
    parallel_trials: int = Field(description="Trials run at a time.")
    total_seconds: float = Field(description="From the job's start to its end.")
    basis: str = Field(description="What the figures rest on.")
    actual: dict[str, float] | None = Field(
        default=None,
        description="Once the job ended: total_seconds (started to completed) and "
        "fit_seconds (fit or search, refit included) measured.",
    )


class ValidationReport(BaseModel):
    """The outcome of a dry run: what a job with this request would train on."""

    estimate: JobEstimate | None = Field(
        default=None, description="The time estimate; null when it could not be made."
    )
    valid: bool
    resolved: dict[str, Any]
    data: dict[str, Any]
    profile: DataProfile
    notes: list[str] = Field(default_factory=list)
