"""Permutation feature importance on the original input columns, bounded in rows and time.

Each raw column is shuffled and the rows go through the whole pipeline (preprocessing
included), so a one-hot encoded column is scored once, under its own name. The cost is one
prediction per column per repeat: it is estimated from a timed prediction first, and the
repeats are cut (or the whole computation skipped, with the reason) to stay in the budget;
repeat ``r`` shuffles with the seed ``seed + r``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

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


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(float(value)) else None


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
    repeats: list[np.ndarray] = []
    try:
        # One repeat at a time, each with its own seed, so that the budget holds even when
        # the first prediction was a fast one: no repeat starts that the clock cannot afford.
        for repeat in range(n_repeats):
            begun = time.perf_counter()
            result = permutation_importance(
                model,
                X_sample,
                y_sample,
                scoring=scoring,
                n_repeats=1,
                random_state=seed + repeat,
                n_jobs=1,
            )
            repeats.append(np.asarray(result.importances)[:, 0])
            last = time.perf_counter() - begun
            if time.perf_counter() - started + last > budget.seconds - one_prediction:
                break
    except (ValueError, TypeError) as exc:
        return None, f"permutation feature importance failed: {type(exc).__name__}: {exc}"
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
