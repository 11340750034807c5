"""The dry run's estimate from timed probes: the split of a fit into a fixed part and a part
per round, and the report's permutation importance within its budget. How close estimates
come to real jobs is measured by bench/estimate.py, not asserted here."""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from app.trainer.estimate import MAX_FIXED_SHARE, Timed, _fixed_share, _importance_seconds
from app.trainer.importance import ImportanceBudget


def timed(cpu: float) -> Timed:
    return Timed(seconds=cpu, cpu=cpu, model=None)


def test_fixed_share_is_what_does_not_grow_with_rounds() -> None:
    # 0.2 s fixed + 0.04 s per round: 1.0 s at 20 rounds, 0.4 s at 5.
    assert abs(_fixed_share(timed(1.0), timed(0.4), (20, 5)) - 0.2) < 1e-9
    # A fit whose time is all rounds has no fixed part.
    assert _fixed_share(timed(1.0), timed(0.25), (20, 5)) == 0.0
    # Noise that makes the short fit slower than the long one cannot exceed the cap.
    assert _fixed_share(timed(1.0), timed(1.2), (20, 5)) == MAX_FIXED_SHARE


def test_importance_is_one_prediction_per_column_and_repeat_within_its_budget() -> None:
    X, y = make_classification(400, 8, n_informative=5, random_state=0)
    holdout = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(holdout, y)
    assert _importance_seconds(ImportanceBudget(seconds=0.0), model, holdout, 1.0) == 0.0
    # Forty predictions of a forest take more than a microsecond: the budget is the figure.
    assert _importance_seconds(ImportanceBudget(seconds=1e-6), model, holdout, 1.0) == 1e-6
    free = _importance_seconds(ImportanceBudget(seconds=1e6), model, holdout, 1.0)
    assert 0.0 < free < 1e6
