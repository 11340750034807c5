"""Permutation feature importance on the original input columns, bounded in rows and time.

Each raw column is shuffled and the rows go through the whole pipeline (preprocessing
included), so a one-hot encoded column is scored once, under its own name. The cost is one
prediction per column per repeat: it is estimated from a timed prediction first to plan the
repeats, and the clock is read after every column, so that a slower machine than planned cuts
the repeats rather than the budget (or skips the computation, with the reason).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.trainer.algorithms import CLASSIFICATION

MIN_ROWS = 2


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


def _repeats(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    scoring: str,
    n_repeats: int,
    seed: int,
    deadline: float,
) -> list[np.ndarray]:
    """Whole repeats done before ``deadline``: a repeat the clock interrupts is dropped, so
    the time spent is at most the budget plus one prediction. Repeat ``r`` shuffles each
    column with its own ``RandomState(seed + r)`` stream."""
    scorer = _accuracy if scoring == "accuracy" else _r2
    actual = np.asarray(y)
    baseline = scorer(actual, model.predict(X))
    done: list[np.ndarray] = []
    for repeat in range(n_repeats):
        rng = np.random.RandomState(seed + repeat)
        drops = np.empty(X.shape[1])
        for index, column in enumerate(X.columns):
            shuffled = X.copy()
            # A Series keeps the column's dtype (a category stays a category).
            shuffled[column] = X[column].iloc[rng.permutation(len(X))].set_axis(X.index)
            drops[index] = baseline - scorer(actual, model.predict(shuffled))
            if time.perf_counter() > deadline:
                return done
        done.append(drops)
    return done


def permutation_report(
    model: Any, task: str, X: pd.DataFrame, y: pd.Series, *, seed: int, budget: ImportanceBudget
) -> tuple[dict[str, Any] | None, str | None]:
    """``(report, None)``, or ``(None, why it was skipped)``."""
    if budget.seconds <= 0 or budget.n_repeats < 1 or budget.max_rows < 1:
        return None, "permutation feature importance is turned off (its budget is 0)"
    if len(X) < MIN_ROWS:
        return None, f"permutation feature importance needs {MIN_ROWS} validation rows or more"
    X_sample, y_sample = _sample(X, y, budget.max_rows, seed)
    started = time.perf_counter()
    model.predict(X_sample)
    one_prediction = time.perf_counter() - started
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
        repeats = _repeats(model, X_sample, y_sample, scoring, n_repeats, seed, deadline)
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
