"""Permutation importance in chunks of shuffled copies gives the numbers of one prediction per
column and repeat, with the same seeds, whether the copies are shuffled raw rows through the
pipeline or shuffled outputs of one pass through the preprocessing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from app.trainer import TrainingSpec, importance, train
from app.trainer.core import split
from app.trainer.importance import ImportanceBudget, _repeats


def repeats_of(
    model: Any, X: pd.DataFrame, y: pd.Series, scoring: str, n: int, seed: int, *, raw: bool
) -> list[np.ndarray]:
    """``_repeats`` on raw copies (``raw``) or on the preprocessing's output, as the report
    chooses for these pipelines."""
    if raw:
        copies: Any = importance._RawCopies(model, X)
        baseline = np.asarray(model.predict(X))
    else:
        copies, baseline, _ = importance._copies(model, X, None)
        assert isinstance(copies, importance._FeatureCopies)
    return _repeats(copies, y, scoring, n, seed, math.inf, baseline=baseline, columns=X.shape[1])


def mixed_frame(rows: int, task: str) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], size=rows)),
            "city": rng.choice(["oslo", "lima", None], size=rows),
            "spend": rng.normal(size=rows),
            "visits": rng.integers(0, 20, size=rows).astype(float),
        }
    )
    frame.loc[::7, "spend"] = np.nan
    signal = frame["spend"].fillna(0) + (frame["plan"] == "pro") + frame["visits"] / 10
    if task == "classification":
        frame["target"] = np.where(signal + rng.normal(size=rows) > 1, "churn", "stay")
    else:
        frame["target"] = signal * 3 + rng.normal(size=rows)
    return frame


def fitted(algorithm: str, task: str, rows: int = 400) -> tuple[Any, pd.DataFrame, pd.Series]:
    frame = mixed_frame(rows, task)
    spec = TrainingSpec(
        algorithm=algorithm, target_column="target", importance=ImportanceBudget(seconds=0)
    )
    result = train(spec, frame)
    X, y = frame.drop(columns="target"), frame["target"]
    _, X_val, _, y_val, _ = split(X, y, spec, task)
    return result.pipeline, X_val, y_val


def one_prediction_per_column(
    model: Any, X: pd.DataFrame, y: pd.Series, task: str, n_repeats: int, seed: int
) -> list[np.ndarray]:
    """The straightforward computation: a shuffled copy of the frame per column and repeat,
    scored with scikit-learn's own function."""
    score = skm.accuracy_score if task == "classification" else skm.r2_score
    baseline = score(y, model.predict(X))
    repeats = []
    for repeat in range(n_repeats):
        rng = np.random.RandomState(seed + repeat)
        drops = []
        for column in X.columns:
            shuffled = X.copy()
            shuffled[column] = X[column].iloc[rng.permutation(len(X))].set_axis(X.index)
            drops.append(baseline - score(y, model.predict(shuffled)))
        repeats.append(np.array(drops))
    return repeats


@pytest.mark.parametrize(
    ("algorithm", "task"),
    [
        ("RandomForestClassifier", "classification"),
        ("LogisticRegression", "classification"),
        ("Ridge", "regression"),
        ("HistGradientBoostingRegressor", "regression"),
    ],
)
@pytest.mark.parametrize("cells", [importance.MAX_CHUNK_CELLS, 1_000])
@pytest.mark.parametrize("raw", [True, False], ids=["raw", "preprocessed"])
def test_chunks_give_the_numbers_of_one_prediction_per_column(
    algorithm: str, task: str, cells: int, raw: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1,000 cells: chunks of 3 copies of 80 rows x 4 columns, ending inside repeats.
    monkeypatch.setattr(importance, "MAX_CHUNK_CELLS", cells)
    model, X, y = fitted(algorithm, task)
    scoring = "accuracy" if task == "classification" else "r2"
    expected = one_prediction_per_column(model, X, y, task, 3, 11)
    got = repeats_of(model, X, y, scoring, 3, 11, raw=raw)
    assert len(got) == 3
    for mine, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
    assert any(np.any(r != 0) for r in got)  # the columns matter: the comparison has teeth


def test_the_report_uses_the_chunked_numbers_for_the_same_seed() -> None:
    model, X, y = fitted("RandomForestClassifier", "classification")
    report, skipped = importance.permutation_report(
        model, "classification", X, y, seed=5, budget=ImportanceBudget(seconds=300, n_repeats=4)
    )
    assert skipped is None
    assert report is not None
    expected = np.stack(one_prediction_per_column(model, X, y, "classification", 4, 5), axis=1)
    by_name = {f["feature"]: f for f in report["features"]}
    for name, row in zip(X.columns, expected, strict=True):
        assert by_name[name]["importance_mean"] == pytest.approx(row.mean(), abs=1e-12)
        assert by_name[name]["importance_std"] == pytest.approx(row.std(), abs=1e-12)
    assert report["n_repeats"] == 4


def test_a_chunk_is_bounded_in_cells_and_by_the_time_left() -> None:
    # 2,000 rows x 10 columns: 20,000 cells a copy; 500 rows x 100 columns: 50,000.
    assert importance.copies_per_chunk(2000, 10, 1e-6, math.inf) == (
        importance.MAX_CHUNK_ROWS // 2000
    )
    assert importance.copies_per_chunk(500, 100, 1e-6, math.inf) == (
        importance.MAX_CHUNK_CELLS // 50_000
    )
    assert importance.copies_per_chunk(20_000, 2, 1e-6, math.inf) == 1
    # At 0.1 s a copy, 0.35 s left holds 3 copies; never fewer than one.
    assert importance.copies_per_chunk(10, 2, 0.1, 0.35) == 3
    assert importance.copies_per_chunk(10, 2, 5.0, 0.35) == 1
