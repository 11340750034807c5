"""Fit a pipeline and report progress from inside the fit, measured in the model's own units.

- Forests (``RandomForest*``, ``ExtraTrees*``) grow their trees in chunks with
  ``warm_start``: every tree draws its seed from the same ``random_state`` stream as in a
  single call, so the model is the same as the one fitted all at once (tested).
- ``GradientBoosting*`` reports each stage through scikit-learn's ``monitor`` hook.
- XGBoost, LightGBM and CatBoost report each boosting round through their callbacks, and
  stop early on an inner validation split carved from the rows given here (the training
  split: never the holdout) when ``early_stopping_rounds`` is set.
- Iterative estimators that print each iteration when verbose (``MLP*`` with the ``sgd`` or
  ``adam`` solver, ``SGD*``, ``Perceptron``, ``PassiveAggressive*``) report the iteration
  they print, out of ``max_iter`` (an upper bound: they stop when they converge). Their
  output is read while they fit, not shown.
- Any other estimator cannot report inside its fit; the message says so.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from app.trainer.boosting import library_of
from app.trainer.preprocessing import NATIVE_CATEGORICAL

# (fraction of the fit done in [0, 1], message or None)
FitReport = Callable[[float, str | None], None]
FOREST_CHUNKS = 20
EARLY_STOPPING_FRACTION = 0.1
_FORESTS = (
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
)


@dataclass
class FitInfo:
    metrics: dict[str, float]
    notes: list[str]
    inner_validation_rows: int = 0


def _quiet(fraction: float, message: str | None) -> None:
    return None


_MLP_LINE = re.compile(r"^Iteration (\d+), loss")
_EPOCH_LINE = re.compile(r"^-- Epoch (\d+)")
_ITERATION_LINES = {
    "MLPClassifier": _MLP_LINE,
    "MLPRegressor": _MLP_LINE,
    "SGDClassifier": _EPOCH_LINE,
    "SGDRegressor": _EPOCH_LINE,
    "SGDOneClassSVM": _EPOCH_LINE,
    "Perceptron": _EPOCH_LINE,
    "PassiveAggressiveClassifier": _EPOCH_LINE,
    "PassiveAggressiveRegressor": _EPOCH_LINE,
}


def _prints_iterations(model: Any) -> bool:
    name = type(model).__name__
    if name.startswith("MLP") and model.get_params().get("solver") == "lbfgs":
        return False  # SciPy's optimiser prints nothing per iteration here
    return name in _ITERATION_LINES


def reports_inside_fit(model: Any) -> bool:
    name = type(model).__name__
    return (
        name in _FORESTS
        or name.startswith("GradientBoosting")
        or _library(model) is not None
        or _prints_iterations(model)
    )


def _library(model: Any) -> str | None:
    return library_of(type(model))


def fit_pipeline(
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str,
    seed: int,
    report: FitReport = _quiet,
) -> FitInfo:
    """Fit ``pipeline`` (preprocessing steps, then the model) on ``X``, ``y``."""
    model = pipeline.steps[-1][1]
    name = type(model).__name__
    if report is _quiet and _library(model) is None:
        pipeline.fit(X, y)  # nobody listens (a search's fold): no chunks, no hooks
        return FitInfo({}, [])
    if not reports_inside_fit(model):
        report(0.0, f"{name} cannot report progress inside its fit; it reports once at the end")
        pipeline.fit(X, y)
        return FitInfo({}, [])
    rows_fit, rows_stop, y_fit, y_stop = X, None, y, None
    rounds = _early_stopping_rounds(model)
    if rounds is not None:
        rows_fit, rows_stop, y_fit, y_stop = _inner_split(X, y, task, seed)
    Xt: Any = rows_fit
    for _, step in pipeline.steps[:-1]:
        Xt = step.fit_transform(Xt, y_fit)
    Xs: Any = rows_stop
    if rows_stop is not None:
        for _, step in pipeline.steps[:-1]:
            Xs = step.transform(Xs)
    categorical = _categorical_indices(pipeline)
    library = _library(model)
    if name in _FORESTS:
        _fit_forest(model, Xt, y_fit, report)
        return FitInfo({}, [])
    if _prints_iterations(model):
        _fit_printing_iterations(model, Xt, y_fit, report)
        return FitInfo({}, [])
    if library is None:
        _fit_gradient_boosting(model, Xt, y_fit, report)
        return FitInfo({}, [])
    metrics = _fit_boosting(model, library, Xt, y_fit, Xs, y_stop, categorical, report)
    notes = []
    inner = 0 if y_stop is None else len(y_stop)
    if rounds is not None:
        notes.append(
            f"early stopping watched {inner} rows carved from the training split "
            f"(best iteration {int(metrics['best_iteration'])})"
        )
    return FitInfo(metrics, notes, inner)


def _early_stopping_rounds(model: Any) -> int | None:
    if _library(model) is None:
        return None
    value = model.get_params(deep=False).get("early_stopping_rounds")
    return int(value) if value else None


def _inner_split(
    X: pd.DataFrame, y: pd.Series, task: str, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    stratify = None
    if task == "classification":
        counts = y.value_counts()
        if counts.min() >= 2 and int(np.ceil(EARLY_STOPPING_FRACTION * len(y))) >= len(counts):
            stratify = y
    parts = train_test_split(
        X, y, test_size=EARLY_STOPPING_FRACTION, random_state=seed, stratify=stratify
    )
    return parts[0], parts[1], parts[2], parts[3]


def _categorical_indices(pipeline: Any) -> list[int]:
    """Output columns of the preprocessor that hold category codes for native handling."""
    preprocess = dict(pipeline.steps).get("preprocess")
    where = getattr(preprocess, "output_indices_", {}).get(NATIVE_CATEGORICAL)
    return [] if where is None else list(range(where.start, where.stop))


def _fit_forest(model: Any, X: Any, y: Any, report: FitReport) -> None:
    total = int(model.n_estimators)
    chunk = max(1, -(-total // FOREST_CHUNKS))
    warm = model.warm_start
    model.set_params(warm_start=True)
    try:
        grown = 0
        while grown < total:
            grown = min(total, grown + chunk)
            model.set_params(n_estimators=grown)
            model.fit(X, y)
            report(grown / total, f"{grown} of {total} trees")
    finally:
        model.set_params(warm_start=warm, n_estimators=total)


def _fit_gradient_boosting(model: Any, X: Any, y: Any, report: FitReport) -> None:
    total = int(model.n_estimators)
    step = max(1, total // 50)

    def monitor(i: int, estimator: Any, local: Any) -> bool:
        if (i + 1) % step == 0 or i + 1 == total:
            report((i + 1) / total, f"{i + 1} of {total} stages")
        return False

    model.fit(X, y, monitor=monitor)


class _IterationLines(io.TextIOBase):
    """A stdout that reads the iteration numbers an estimator prints (and shows nothing)."""

    def __init__(self, pattern: re.Pattern[str], total: int, report: FitReport) -> None:
        self.pattern = pattern
        self.total = max(1, total)
        self.report = report
        self.pending = ""
        self.highest = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            match = self.pattern.match(line.strip())
            if match and int(match[1]) > self.highest:  # one-vs-rest repeats the epochs
                self.highest = int(match[1])
                self.report(
                    min(1.0, self.highest / self.total),
                    f"iteration {self.highest} of at most {self.total}",
                )
        return len(text)


def _fit_printing_iterations(model: Any, X: Any, y: Any, report: FitReport) -> None:
    name = type(model).__name__
    lines = _IterationLines(_ITERATION_LINES[name], int(model.max_iter), report)
    verbose = model.get_params()["verbose"]
    model.set_params(verbose=1)
    try:
        # The training process fits one model at a time, so borrowing stdout is safe here.
        with contextlib.redirect_stdout(lines):
            model.fit(X, y)
    finally:
        model.set_params(verbose=verbose)


class _Rounds:
    """Counts boosting rounds for every library's callback protocol."""

    def __init__(self, total: int, report: FitReport) -> None:
        self.total = max(1, total)
        self.report = report
        self.step = max(1, self.total // 100)

    def done(self, rounds: int) -> None:
        if rounds % self.step == 0 or rounds >= self.total:
            self.report(min(1.0, rounds / self.total), f"{rounds} of {self.total} rounds")


def _fit_boosting(
    model: Any,
    library: str,
    X: Any,
    y: Any,
    X_stop: Any,
    y_stop: Any,
    categorical: list[int],
    report: FitReport,
) -> dict[str, float]:
    if library == "xgboost":
        return _fit_xgboost(model, X, y, X_stop, y_stop, categorical, report)
    if library == "lightgbm":
        return _fit_lightgbm(model, X, y, X_stop, y_stop, categorical, report)
    return _fit_catboost(model, X, y, X_stop, y_stop, categorical, report)


def _fit_xgboost(
    model: Any,
    X: Any,
    y: Any,
    X_stop: Any,
    y_stop: Any,
    categorical: list[int],
    report: FitReport,
) -> dict[str, float]:
    import xgboost

    rounds = _Rounds(int(model.get_params()["n_estimators"] or 100), report)

    class Callback(xgboost.callback.TrainingCallback):
        def after_iteration(self, booster: Any, epoch: int, evals_log: Any) -> bool:
            rounds.done(epoch + 1)
            return False

    width = np.shape(X)[1]
    if categorical:
        types = ["c" if i in categorical else "q" for i in range(width)]
        model.set_params(enable_categorical=True, feature_types=types)
    # The callback lives on the estimator during the fit only: it is no part of the model.
    model.set_params(callbacks=[Callback()])
    try:
        evals = [(X_stop, y_stop)] if y_stop is not None else None
        model.fit(X, y, eval_set=evals, verbose=False)
    finally:
        model.set_params(callbacks=None)
    if y_stop is None:
        return {}
    return {"best_iteration": float(model.best_iteration + 1)}


def _fit_lightgbm(
    model: Any,
    X: Any,
    y: Any,
    X_stop: Any,
    y_stop: Any,
    categorical: list[int],
    report: FitReport,
) -> dict[str, float]:
    rounds = _Rounds(int(model.get_params()["n_estimators"]), report)

    def callback(env: Any) -> None:
        rounds.done(env.iteration + 1)

    kwargs: dict[str, Any] = {"callbacks": [callback]}
    if categorical:
        kwargs["categorical_feature"] = categorical
    if y_stop is not None:
        # Not 4.7's eval_X/eval_y: those skip the classifier's label encoding.
        kwargs["eval_set"] = [(X_stop, y_stop)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated")
        model.fit(X, y, **kwargs)
    if y_stop is None:
        return {}
    return {"best_iteration": float(model.best_iteration_)}


def _fit_catboost(
    model: Any,
    X: Any,
    y: Any,
    X_stop: Any,
    y_stop: Any,
    categorical: list[int],
    report: FitReport,
) -> dict[str, float]:
    params = model.get_params()
    total = params.get("iterations") or params.get("n_estimators") or 1000
    rounds = _Rounds(int(total), report)

    class Callback:
        def after_iteration(self, info: Any) -> bool:
            rounds.done(info.iteration + 1)
            return True

    evals = (X_stop, y_stop) if y_stop is not None else None
    model.fit(X, y, eval_set=evals, callbacks=[Callback()], cat_features=categorical or None)
    if y_stop is None:
        return {}
    return {"best_iteration": float(model.get_best_iteration() + 1)}
