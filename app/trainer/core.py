"""Train one model: checks on the data, a seeded holdout split, fit (or search), evaluation."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from app.trainer.algorithms import CLASSIFICATION, REGRESSION, build_estimator, get_algorithm
from app.trainer.errors import DataError, SpecError
from app.trainer.evaluation import named_metrics
from app.trainer.fitting import fit_pipeline
from app.trainer.importance import ImportanceBudget
from app.trainer.predictions import Predictions, predict_splits
from app.trainer.preprocessing import NativeCategorical, PreprocessingSpec, build_preprocessor

# (stage, fraction of that stage done in [0, 1], message or None)
ProgressCallback = Callable[[str, float, str | None], None]

MIN_ROWS = 5
# How each boosting library takes category columns natively (see build_preprocessor).
NATIVE_CATEGORICAL_MODE: dict[str, NativeCategorical] = {
    "xgboost": "codes",
    "lightgbm": "codes",
    "catboost": "text",
}


def _no_progress(stage: str, fraction: float, message: str | None) -> None:
    return None


@dataclass(frozen=True)
class TrainingSpec:
    """Everything the trainer needs, free of any web or database type."""

    algorithm: str
    target_column: str
    parameters: dict[str, Any] = field(default_factory=dict)
    feature_columns: list[str] | None = None
    task: str | None = None
    test_size: float = 0.2
    random_state: int = 0
    stratify: bool = True
    n_jobs: int | None = None
    preprocessing: PreprocessingSpec = field(default_factory=PreprocessingSpec)
    tuning: dict[str, Any] | None = None
    importance: ImportanceBudget = ImportanceBudget()


@dataclass
class TrainingResult:
    pipeline: Pipeline
    task: str
    metrics: dict[str, float]
    parameters: dict[str, Any]
    feature_columns: list[str]
    classes: list[Any] | None
    rows: dict[str, int]
    best_hyperparameters: dict[str, Any] | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0
    evaluation: dict[str, Any] | None = None


def resolve_task(spec: TrainingSpec) -> str:
    info = get_algorithm(spec.algorithm)
    if spec.task is not None and spec.task != info.task:
        raise SpecError(
            "algorithm_config.task", f"{spec.algorithm} is a {info.task} model, not {spec.task}"
        )
    return info.task


def make_estimator(spec: TrainingSpec) -> Any:
    """Build the estimator with its checked parameters, the seed and the core budget applied."""
    info = get_algorithm(spec.algorithm)
    parameters = dict(spec.parameters)
    if info.supports_random_state and "random_state" not in parameters:
        parameters["random_state"] = spec.random_state
    if info.supports_n_jobs and spec.n_jobs is not None:
        parameters["n_jobs"] = spec.n_jobs
    return build_estimator(info, parameters)


def select_columns(frame: pd.DataFrame, spec: TrainingSpec) -> list[str]:
    """The feature columns, after checking that every named column exists exactly once."""
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"the data has duplicate column names: {', '.join(duplicated)}")
    features = spec.feature_columns or [c for c in frame.columns if c != spec.target_column]
    missing = [c for c in [*features, spec.target_column] if c not in frame.columns]
    if missing:
        raise DataError(
            f"columns not found in the data: {', '.join(map(str, missing))} "
            f"(it has: {', '.join(map(str, frame.columns[:50]))})"
        )
    if not features:
        raise DataError("no feature columns: the data holds only the target column")
    return list(features)


def _target(frame: pd.DataFrame, spec: TrainingSpec, task: str) -> tuple[pd.Series, int]:
    y = frame[spec.target_column]
    present = y.notna()
    dropped = int((~present).sum())
    y = y[present]
    if y.empty:
        raise DataError(f"target column {spec.target_column!r} has no values")
    if task == REGRESSION:
        if pd.api.types.is_bool_dtype(y.dtype) or not pd.api.types.is_numeric_dtype(y.dtype):
            sample = y.iloc[0]
            raise DataError(
                f"target column {spec.target_column!r} is not numeric (e.g. {sample!r}), "
                f"so {spec.algorithm} (a regressor) cannot predict it; choose a classifier"
            )
    else:
        if pd.api.types.is_float_dtype(y.dtype) and not np.all(np.mod(y.to_numpy(), 1) == 0):
            raise DataError(
                f"target column {spec.target_column!r} holds continuous values, "
                f"so {spec.algorithm} (a classifier) cannot predict it; choose a regressor"
            )
        classes = y.nunique()
        if classes < 2:
            raise DataError(
                f"target column {spec.target_column!r} has a single class "
                f"({y.iloc[0]!r}); a classifier needs at least two"
            )
    return y, dropped


def split(
    X: pd.DataFrame, y: pd.Series, spec: TrainingSpec, task: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, list[str]]:
    notes: list[str] = []
    stratify = None
    if task == CLASSIFICATION and spec.stratify:
        counts = y.value_counts()
        n_validation = int(np.ceil(spec.test_size * len(y)))
        if counts.min() >= 2 and n_validation >= len(counts):
            stratify = y
        else:
            notes.append("the validation split is not stratified: some class is too rare")
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=spec.test_size, random_state=spec.random_state, stratify=stratify
    )
    return X_train, X_val, y_train, y_val, notes


@dataclass
class PreparedData:
    features: list[str]
    X_train: pd.DataFrame
    X_val: pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series
    dropped: int
    notes: list[str]
    pipeline: Pipeline


def prepare(spec: TrainingSpec, frame: pd.DataFrame, task: str) -> PreparedData:
    """The checked columns, the seeded holdout split and the unfitted pipeline."""
    features = select_columns(frame, spec)
    y, dropped = _target(frame, spec, task)
    # Every row when no target is missing: a selection of columns, no lookup of each label.
    X = frame[features] if dropped == 0 else frame.loc[y.index, features]
    if len(X) < MIN_ROWS:
        raise DataError(f"only {len(X)} usable rows; at least {MIN_ROWS} are needed")
    X_train, X_val, y_train, y_val, notes = split(X, y, spec, task)
    if dropped:
        notes.append(f"{dropped} rows with a missing target were dropped")
    info = get_algorithm(spec.algorithm)
    estimator = make_estimator(spec)
    preprocessor = build_preprocessor(
        X_train,
        spec.preprocessing,
        needs_scaling=info.needs_scaling,
        native_categorical=NATIVE_CATEGORICAL_MODE.get(info.library or ""),
    )
    steps: list[tuple[str, Any]] = []
    if preprocessor is not None:
        steps.append(("preprocess", preprocessor))
    steps.append(("model", estimator))
    return PreparedData(features, X_train, X_val, y_train, y_val, dropped, notes, Pipeline(steps))


def train(
    spec: TrainingSpec,
    frame: pd.DataFrame,
    progress: ProgressCallback = _no_progress,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
    search: Callable[..., Any] | None = None,
) -> TrainingResult:
    """Fit ``spec`` on ``frame`` and evaluate it on a seeded holdout split. ``search`` runs
    a hyperparameter search instead of the in-process one (``run_search``'s signature): the
    executor's, whose trials are units of work any worker can take."""
    task = resolve_task(spec)
    progress("preprocessing", 0.0, None)
    prepared = prepare(spec, frame, task)
    X_train, X_val, y_train, y_val = (
        prepared.X_train,
        prepared.X_val,
        prepared.y_train,
        prepared.y_val,
    )
    features, dropped, notes, pipeline = (
        prepared.features,
        prepared.dropped,
        prepared.notes,
        prepared.pipeline,
    )
    progress("preprocessing", 1.0, f"{len(X_train)} training and {len(X_val)} validation rows")

    best: dict[str, Any] | None = None
    trials: list[dict[str, Any]] = []
    extra_metrics: dict[str, float] = {}
    inner_rows = 0
    evaluated: Evaluated | None = None  # made by the search while it waited for its last trials
    started = time.perf_counter()
    if spec.tuning:
        from app.trainer.tuning import run_search

        progress("tuning", 0.0, None)
        if search is None:
            outcome = run_search(pipeline, spec, task, X_train, y_train, progress, on_trial)
        else:

            def evaluate(fitted: Pipeline) -> Evaluated:
                return _evaluate(fitted, task, spec, X_train, y_train, X_val, y_val)

            outcome = search(
                pipeline, spec, task, X_train, y_train, progress, on_trial, evaluate=evaluate
            )
        pipeline, best, trials = outcome.pipeline, outcome.best_params, outcome.trials
        evaluated = outcome.evaluated
        extra_metrics["cv_best_score"] = outcome.best_score
        extra_metrics.update(outcome.fit_metrics)
        notes.extend(outcome.notes)
        progress("tuning", 1.0, f"best of {len(trials)} trials: {best}")
    else:
        progress("training", 0.0, f"fitting {spec.algorithm} on {len(X_train)} rows")

        def report(fraction: float, message: str | None) -> None:
            progress("training", fraction, message)

        fitted = fit_pipeline(
            pipeline, X_train, y_train, task=task, seed=spec.random_state, report=report
        )
        extra_metrics.update(fitted.metrics)
        notes.extend(fitted.notes)
        inner_rows = fitted.inner_validation_rows
        progress("training", 1.0, None)
    fit_seconds = time.perf_counter() - started

    progress("evaluating", 0.0, None)
    progress("evaluating", 0.5, f"evaluation report on {len(X_val)} validation rows")
    if evaluated is None or evaluated.pipeline is not pipeline:
        evaluated = _evaluate(pipeline, task, spec, X_train, y_train, X_val, y_val)
    metrics = {**evaluated.metrics, **extra_metrics}
    evaluation = evaluated.report
    if dropped:
        metrics["rows_dropped_missing_target"] = float(dropped)
    model = pipeline.named_steps["model"]
    classes = getattr(model, "classes_", None)
    return TrainingResult(
        pipeline=pipeline,
        task=task,
        metrics=metrics,
        parameters=model.get_params(deep=False),
        feature_columns=[str(c) for c in features],
        classes=[c.item() if hasattr(c, "item") else c for c in classes]
        if classes is not None
        else None,
        rows={
            "rows": int(len(frame)),
            "train_rows": int(len(X_train)),
            "validation_rows": int(len(X_val)),
            "dropped_missing_target": dropped,
            "early_stopping_rows": inner_rows,
        },
        best_hyperparameters=best,
        trials=trials,
        notes=notes,
        fit_seconds=fit_seconds,
        evaluation=evaluation,
    )


@dataclass(frozen=True)
class Evaluated:
    """A fitted pipeline's metrics on both splits and its evaluation report."""

    pipeline: Pipeline
    metrics: dict[str, float]
    report: dict[str, Any]


def _evaluate(
    pipeline: Pipeline,
    task: str,
    spec: TrainingSpec,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_val: pd.DataFrame,
    y_val: pd.Series,
) -> Evaluated:
    # Both splits go through the pipeline in one call; the metrics, the report and the
    # importance's baseline share its predictions.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The validation rows as the estimator saw them, for the permutation importance
        # when it will shuffle all of them (it samples bigger splits and preprocesses those).
        wanted = 0 if len(X_val) <= spec.importance.max_rows else None
        validation, training = predict_splits(
            pipeline, [X_val, X_train], task, keep_features=wanted
        )
    metrics = named_metrics(
        pipeline, task, {"validation": (y_val, validation), "train": (y_train, training)}
    )
    report = report_or_reason(pipeline, task, X_val, y_val, spec, validation)
    return Evaluated(pipeline, metrics, report)


def report_or_reason(
    pipeline: Pipeline,
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    spec: TrainingSpec,
    predictions: Predictions | None = None,
) -> dict[str, Any]:
    """The evaluation report; when it cannot be made, one that says why (the model itself is
    sound: its metrics are computed, so the job goes on)."""
    from app.trainer.report import evaluation_report

    try:
        return evaluation_report(
            pipeline,
            task,
            X,
            y,
            seed=spec.random_state,
            budget=spec.importance,
            predictions=predictions,
        )
    except MemoryError:
        raise
    except Exception as exc:
        return {
            "task": task,
            "split": "validation",
            "rows": int(len(X)),
            "classification": None,
            "regression": None,
            "feature_importance": None,
            "skipped_reason": f"the report could not be made: {type(exc).__name__}: {exc}",
        }
