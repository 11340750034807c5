"""Permutation feature importance on the original input columns, bounded in rows and time.

Each raw column is shuffled and the rows go through the whole pipeline (preprocessing
included), so a one-hot encoded column is scored once, under its own name. The shuffled copies
of the rows (every column of every repeat) go through the pipeline a chunk at a time, one
prediction per chunk: on small data a prediction is mostly the pipeline's fixed cost, paid
once per chunk instead of once per column and repeat. The cost is planned from one timed
prediction (an upper bound of a copy's share), and the clock is read before every chunk, so
that a slower machine than planned cuts the repeats rather than the budget (or skips the
computation, with the reason).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.trainer.algorithms import CLASSIFICATION
from app.trainer.predictions import Predictions, final_step
from app.trainer.separable import column_groups

MIN_ROWS = 2
# What goes through the pipeline at once (one copy at least): rows, and cells (rows x raw
# columns), of the permuted copies. The rows bound what the preprocessing's output can take
# (one-hot columns, text features) to a few times one prediction of the sampled rows.
MAX_CHUNK_ROWS = 8_192
MAX_CHUNK_CELLS = 500_000
# A chunk is sized to take at most this share of the budget.
CHUNK_SHARE = 0.1


@dataclass(frozen=True)
class ImportanceBudget:
    """``seconds`` 0 turns the computation off."""

    seconds: float = 5.0
    max_rows: int = 2000
    n_repeats: int = 5


def _sample(X: pd.DataFrame, y: pd.Series, rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    if len(X) <= rows:
        return X, y
    chosen = np.sort(np.random.default_rng(seed).choice(len(X), size=rows, replace=False))
    return X.iloc[chosen], y.iloc[chosen]


# The scores of scikit-learn's "accuracy" and "r2" scorers, without their input validation,
# which costs more than the prediction itself on a small model (one score per column and repeat).
def _accuracy(actual: np.ndarray, predicted: Any) -> float:
    return float(np.mean(actual == np.asarray(predicted).reshape(actual.shape)))


def _r2(actual: np.ndarray, predicted: Any) -> float:
    truth = actual.astype(float)
    residual = float(np.sum((truth - np.asarray(predicted, dtype=float).reshape(truth.shape)) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0  # scikit-learn's r2_score with force_finite
    return 1.0 - residual / total


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(float(value)) else None


def _permuted_copies(X: pd.DataFrame, shuffles: list[tuple[int, np.ndarray]]) -> pd.DataFrame:
    """One frame of ``len(shuffles)`` copies of ``X`` one after the other; in copy ``i`` the
    column ``shuffles[i][0]`` holds its values in the order ``shuffles[i][1]``. Each column
    is taken from its own array, so it keeps its dtype (a category stays a category)."""
    rows = np.arange(len(X))
    data = {}
    for index, name in enumerate(X.columns):
        order = np.concatenate([p if column == index else rows for column, p in shuffles])
        data[name] = X.iloc[:, index].array.take(order)
    return pd.DataFrame(data, columns=X.columns)


def copies_per_chunk(rows: int, columns: int, copy_seconds: float, seconds: float) -> int:
    """Copies that fit ``MAX_CHUNK_ROWS``, ``MAX_CHUNK_CELLS`` and, at ``copy_seconds``
    each, ``seconds``."""
    by_rows = MAX_CHUNK_ROWS // max(rows, 1)
    by_cells = MAX_CHUNK_CELLS // max(rows * columns, 1)
    by_time = seconds / max(copy_seconds, 1e-9)
    return int(max(1, min(by_rows, by_cells, by_time)))


class _RawCopies:
    """Shuffled copies of the raw rows, through the whole pipeline."""

    def __init__(self, model: Any, X: pd.DataFrame) -> None:
        self.model, self.X = model, X
        self.cells = X.shape[1]

    def predict(self, shuffles: list[tuple[int, np.ndarray]]) -> np.ndarray:
        return np.asarray(self.model.predict(_permuted_copies(self.X, shuffles)))


class _FeatureCopies:
    """Shuffled copies made on the preprocessing's output (``separable.column_groups``): in
    copy ``i`` the outputs of raw column ``shuffles[i][0]`` hold their rows in the order
    ``shuffles[i][1]``, which is what preprocessing the raw copy would have given."""

    def __init__(self, estimator: Any, features: np.ndarray, groups: list[np.ndarray]) -> None:
        self.estimator, self.features, self.groups = estimator, features, groups
        self.cells = max(features.shape[1], len(groups))

    def predict(self, shuffles: list[tuple[int, np.ndarray]]) -> np.ndarray:
        rows = len(self.features)
        stacked = np.tile(self.features, (len(shuffles), 1))
        for i, (column, order) in enumerate(shuffles):
            outputs = self.groups[column]
            if len(outputs):
                stacked[i * rows : (i + 1) * rows, outputs] = self.features[np.ix_(order, outputs)]
        return np.asarray(self.estimator.predict(stacked))


def _repeats(
    copies: _RawCopies | _FeatureCopies,
    y: pd.Series,
    scoring: str,
    n_repeats: int,
    seed: int,
    deadline: float,
    *,
    baseline: np.ndarray,
    columns: int,
    copy_seconds: float = 0.0,
    chunk_seconds: float = math.inf,
) -> list[np.ndarray]:
    """Whole repeats done before ``deadline``: a repeat the clock interrupts is dropped.
    Repeat ``r`` shuffles each column with its own ``RandomState(seed + r)`` stream, column
    after column, as one prediction per column would. The shuffled copies are predicted in
    chunks, one prediction each: a chunk holds at most ``MAX_CHUNK_ROWS`` rows,
    ``MAX_CHUNK_CELLS`` cells and the copies that fit ``chunk_seconds`` and the time left,
    at the latest measured cost of a copy (``copy_seconds`` before the first: one prediction
    of the rows); the clock is read before each chunk, so the time spent is at most the
    budget plus about one chunk. ``baseline``: the model's predictions of the rows."""
    scorer = _accuracy if scoring == "accuracy" else _r2
    actual = np.asarray(y)
    rows = len(actual)
    score = scorer(actual, baseline)
    drops = np.empty((n_repeats, columns))
    planned = [(repeat, column) for repeat in range(n_repeats) for column in range(columns)]
    streams: dict[int, np.random.RandomState] = {}
    done = 0
    while done < len(planned):
        now = time.perf_counter()
        if now > deadline:
            break
        left = min(chunk_seconds, deadline - now)
        chunk = planned[done : done + copies_per_chunk(rows, copies.cells, copy_seconds, left)]
        shuffles = []
        for repeat, column in chunk:
            if repeat not in streams:
                streams[repeat] = np.random.RandomState(seed + repeat)
            shuffles.append((column, streams[repeat].permutation(rows)))
        predicted = copies.predict(shuffles)
        for i, (repeat, column) in enumerate(chunk):
            drops[repeat, column] = score - scorer(actual, predicted[i * rows : (i + 1) * rows])
        done += len(chunk)
        copy_seconds = (time.perf_counter() - now) / len(chunk)
    return [drops[repeat] for repeat in range(done // columns)]


def _copies(
    model: Any, X: pd.DataFrame, predictions: Predictions | None
) -> tuple[_RawCopies | _FeatureCopies, np.ndarray, float]:
    """How the shuffled copies are made, the baseline predictions of ``X`` and the seconds of
    one prediction: on the preprocessing's output when it keeps the raw columns apart (the
    rows already through it in ``predictions``, or put through once), else on the raw rows."""
    known = (
        predictions if predictions is not None and len(predictions.predicted) == len(X) else None
    )
    try:
        separable = column_groups(model, [str(name) for name in X.columns])
    except Exception:  # a shortcut only: an unexpected step leaves the raw copies
        separable = None
    features = None if known is None else known.features
    if separable is not None and features is None:
        started = time.perf_counter()
        _, features = final_step(model, X)
        if known is None:
            baseline = np.asarray(separable[0].predict(features))
            known = Predictions(baseline, seconds=time.perf_counter() - started)
    if known is None:
        started = time.perf_counter()
        known = Predictions(np.asarray(model.predict(X)), seconds=time.perf_counter() - started)
    if separable is not None and isinstance(features, np.ndarray) and features.ndim == 2:
        estimator, groups = separable
        return _FeatureCopies(estimator, features, groups), known.predicted, known.seconds
    return _RawCopies(model, X), known.predicted, known.seconds


def permutation_report(
    model: Any,
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    seed: int,
    budget: ImportanceBudget,
    predictions: Predictions | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """``(report, None)``, or ``(None, why it was skipped)``. ``predictions``: the model's
    predictions of ``X`` (timed), when the caller has them."""
    if budget.seconds <= 0 or budget.n_repeats < 1 or budget.max_rows < 1:
        return None, "permutation feature importance is turned off (its budget is 0)"
    if len(X) < MIN_ROWS:
        return None, f"permutation feature importance needs {MIN_ROWS} validation rows or more"
    X_sample, y_sample = _sample(X, y, budget.max_rows, seed)
    known = predictions if len(X_sample) == len(X) else None
    copies, baseline, one_prediction = _copies(model, X_sample, known)
    columns = X_sample.shape[1]
    per_repeat = max(one_prediction, 1e-6) * columns
    affordable = int((budget.seconds - one_prediction) // per_repeat)
    n_repeats = min(budget.n_repeats, affordable)
    if n_repeats < 1:
        return None, (
            f"permutation feature importance skipped: one repeat over {columns} columns "
            f"would take about {per_repeat:.1f}s, over the budget of {budget.seconds:g}s"
        )
    scoring = "accuracy" if task == CLASSIFICATION else "r2"
    started = time.perf_counter()
    deadline = started + budget.seconds - one_prediction
    try:
        repeats = _repeats(
            copies,
            y_sample,
            scoring,
            n_repeats,
            seed,
            deadline,
            baseline=baseline,
            columns=columns,
            copy_seconds=one_prediction,
            chunk_seconds=budget.seconds * CHUNK_SHARE,
        )
    except (ValueError, TypeError) as exc:
        return None, f"permutation feature importance failed: {type(exc).__name__}: {exc}"
    if not repeats:
        return None, (
            f"permutation feature importance skipped: its budget of {budget.seconds:g}s ran "
            f"out before one repeat over {columns} columns was done"
        )
    seconds = time.perf_counter() - started
    importances = np.stack(repeats, axis=1)
    features: list[dict[str, Any]] = [
        {
            "feature": str(name),
            "importance_mean": _finite(mean),
            "importance_std": _finite(std),
        }
        for name, mean, std in zip(
            X_sample.columns, importances.mean(axis=1), importances.std(axis=1), strict=True
        )
    ]
    # Most important first; a column whose score is undefined goes last.
    features.sort(key=lambda f: (f["importance_mean"] is None, -(f["importance_mean"] or 0.0)))
    report = {
        "method": "permutation",
        "scoring": scoring,
        "n_repeats": len(repeats),
        "n_repeats_planned": n_repeats,
        "rows": int(len(X_sample)),
        "seed": seed,
        "seconds": round(seconds, 4),
        "budget_seconds": budget.seconds,
        "features": features,
    }
    return report, None
