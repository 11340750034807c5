"""The permutation importance's copies made on the preprocessing's output equal, to the bit,
what putting the shuffled raw copies through the pipeline gives, for every kind of column the
preprocessing handles; a step it does not know leaves the importance on raw copies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from app.trainer import TrainingSpec, importance, train
from app.trainer.core import split
from app.trainer.importance import ImportanceBudget
from app.trainer.predictions import predict_splits
from app.trainer.preprocessing import PreprocessingSpec
from app.trainer.separable import column_groups


def every_kind(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(
        {
            "spend": rng.normal(size=rows),
            "visits": rng.integers(0, 30, size=rows).astype(float),
            "never": np.full(rows, np.nan),  # all missing: the imputer drops it
            "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], size=rows)),
            "city_name": rng.choice(["oslo", "lima", "pune", None], size=rows),
            "city": rng.choice(["a", "b"], size=rows),  # a prefix of another column's name
            "joined": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 900, size=rows), unit="D"),
            "seen": pd.Timestamp("2025-06-01")
            + pd.to_timedelta(rng.integers(0, 5000, size=rows), unit="h"),
        }
    )
    frame.loc[::5, "spend"] = np.nan
    signal = frame["spend"].fillna(0) + (frame["plan"] == "pro") + frame["joined"].dt.month / 6
    frame["target"] = np.where(signal + rng.normal(size=rows) > 1.2, "yes", "no")
    return frame


CASES = [
    ("RandomForestClassifier", PreprocessingSpec()),
    ("LogisticRegression", PreprocessingSpec(scaler="robust", categorical_imputation="constant")),
    ("DecisionTreeClassifier", PreprocessingSpec(encoder="ordinal", scaler="minmax")),
    ("XGBClassifier", PreprocessingSpec()),  # category codes, natively
    ("CatBoostClassifier", PreprocessingSpec()),  # category text, natively
]


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize(("algorithm", "preprocessing"), CASES, ids=[c[0] for c in CASES])
def test_copies_on_the_preprocessed_rows_equal_the_pipeline_on_shuffled_raw_rows(
    algorithm: str, preprocessing: PreprocessingSpec
) -> None:
    frame = every_kind()
    parameters: dict[str, Any] = {"iterations": 20} if "CatBoost" in algorithm else {}
    spec = TrainingSpec(
        algorithm=algorithm,
        target_column="target",
        parameters=parameters,
        preprocessing=preprocessing,
        importance=ImportanceBudget(seconds=0),
    )
    model = train(spec, frame).pipeline
    X, y = frame.drop(columns="target"), frame["target"]
    _, X_val, _, _, _ = split(X, y, spec, "classification")
    copies, baseline, _ = importance._copies(model, X_val, None)
    assert isinstance(copies, importance._FeatureCopies)
    np.testing.assert_array_equal(baseline, model.predict(X_val))
    raw = importance._RawCopies(model, X_val)
    rng = np.random.RandomState(3)
    shuffles = [(column, rng.permutation(len(X_val))) for column in range(X_val.shape[1])] * 2
    np.testing.assert_array_equal(copies.predict(shuffles), raw.predict(shuffles))
    # The outputs of each raw column are its own: the all-missing one has none.
    groups = dict(zip(X_val.columns, copies.groups, strict=True))
    assert len(groups["never"]) == 0
    assert all(len(groups[name]) > 0 for name in ("spend", "plan", "city", "city_name"))
    if algorithm in ("RandomForestClassifier", "LogisticRegression"):
        assert len(groups["plan"]) == 3  # one-hot
    assert len(groups["joined"]) == len(groups["seen"]) == 5  # year, month, day, weekday, hour


def test_a_step_that_mixes_columns_leaves_the_raw_copies() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    mixing = Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=2))])
    model = Pipeline(
        [
            ("preprocess", ColumnTransformer([("numeric", mixing, ["a", "b", "c"])])),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    assert column_groups(model, list(X.columns)) is None
    copies, _, _ = importance._copies(model, X, None)
    assert isinstance(copies, importance._RawCopies)
    kept_apart = Pipeline(
        [
            ("preprocess", ColumnTransformer([("numeric", StandardScaler(), ["a", "b", "c"])])),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    found = column_groups(kept_apart, list(X.columns))
    assert found is not None
    assert [list(group) for group in found[1]] == [[0], [1], [2]]


def test_an_encoder_fitted_on_named_columns_or_a_slice_of_columns_leaves_the_raw_copies() -> None:
    # A one-hot output "a_x" could be column a's category x or the column named a_x itself.
    X = pd.DataFrame({"a": ["w", "x"] * 30, "a_x": ["q"] * 60})
    y = (X["a"] == "x").astype(int)
    encoder = ColumnTransformer([("onehot", OneHotEncoder(drop="first"), ["a", "a_x"])])
    named = Pipeline([("preprocess", encoder), ("model", DecisionTreeClassifier())]).fit(X, y)
    assert column_groups(named, list(X.columns)) is None
    numbers = pd.DataFrame(np.random.default_rng(2).normal(size=(60, 3)), columns=["p", "q", "r"])
    by_slice = ColumnTransformer([("scale", StandardScaler(), slice(0, 2))])
    sliced = Pipeline([("preprocess", by_slice), ("model", LogisticRegression())])
    sliced.fit(numbers, (numbers["p"] > 0).astype(int))
    assert column_groups(sliced, list(numbers.columns)) is None
    report, skipped = importance.permutation_report(
        sliced,
        "classification",
        numbers,
        (numbers["p"] > 0).astype(int),
        seed=1,
        budget=ImportanceBudget(seconds=30, n_repeats=2),
    )
    assert skipped is None
    assert report is not None
    assert report["features"][0]["feature"] == "p"


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_only_the_validation_rows_are_kept_preprocessed_and_as_their_own_copy() -> None:
    frame = every_kind()
    spec = TrainingSpec(
        algorithm="RandomForestClassifier",
        target_column="target",
        importance=ImportanceBudget(seconds=0),
    )
    model = train(spec, frame).pipeline
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_val, _, _, _ = split(X, y, spec, "classification")
    validation, training = predict_splits(
        model, [X_val, X_train], "classification", keep_features=0
    )
    assert validation.features is not None
    assert training.features is None
    assert validation.features.shape[0] == len(X_val)
    assert validation.features.base is None  # not a view that holds the training rows too
    assert all(
        p.features is None for p in predict_splits(model, [X_val, X_train], "classification")
    )
