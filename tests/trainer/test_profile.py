"""The trainer's dry run (``app.trainer.profile.check_data``): the checks ``train`` makes, and a
profile of the data, without fitting anything."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.trainer import DataError, SpecError, TrainingSpec
from app.trainer.preprocessing import PreprocessingSpec
from app.trainer.profile import check_data


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, np.nan, 22, 60, 38, 51],
            "city": ["Oslo", "Rome", "Oslo", None, "Rome", "Oslo", "Oslo"],
            "joined": ["2021-01-01"] * 7,
            "bought": ["yes", "no", "yes", None, "no", "yes", "yes"],
            "spend": [10.0, 5.0, 7.5, 1.0, 3.0, 8.0, 9.0],
        }
    )


def test_a_classification_profile() -> None:
    spec = TrainingSpec(
        algorithm="LogisticRegression",
        target_column="bought",
        feature_columns=["age", "city", "joined"],
        parameters={"C": 0.5},
    )
    report = check_data(spec, people())
    assert report.task == "classification"
    assert report.feature_columns == ["age", "city", "joined"]
    assert report.column_kinds == {
        "numeric": ["age"],
        "categorical": ["city"],
        "datetime": ["joined"],
    }
    assert report.scaled is True
    assert report.estimator_parameters["C"] == 0.5
    assert report.estimator_parameters["random_state"] == 0  # the seed is applied
    profile = report.profile
    assert profile["rows"] == 7
    assert profile["columns"] == 4
    assert profile["rows_dropped_missing_target"] == 1
    assert profile["class_balance"] == {"yes": 4, "no": 2}
    by_name = {c["name"]: c for c in profile["column_profiles"]}
    assert by_name["age"] == {
        "name": "age",
        "dtype": "float64",
        "kind": "numeric",
        "missing": 1,
        "distinct": 6,
    }
    assert by_name["bought"]["kind"] == "target"
    assert by_name["city"]["missing"] == 1
    assert report.notes == ["1 rows with a missing target would be dropped"]


def test_a_regression_profile_summarises_the_target() -> None:
    spec = TrainingSpec(algorithm="RandomForestRegressor", target_column="spend")
    report = check_data(spec, people())
    assert report.task == "regression"
    assert report.scaled is False  # trees need no scaling
    summary = report.profile["target_summary"]
    assert summary["min"] == 1.0
    assert summary["max"] == 10.0
    assert summary["mean"] == pytest.approx(np.mean([10, 5, 7.5, 1, 3, 8, 9]))
    assert "class_balance" not in report.profile
    assert report.notes == []


@pytest.mark.parametrize(
    ("preprocessing", "algorithm", "scaled"),
    [
        (PreprocessingSpec(scaler="none"), "LogisticRegression", False),
        (PreprocessingSpec(scaler="minmax"), "DecisionTreeClassifier", True),
        (PreprocessingSpec(scaler="auto"), "DecisionTreeClassifier", False),
    ],
)
def test_scaled_says_what_the_pipeline_would_do(
    preprocessing: PreprocessingSpec, algorithm: str, scaled: bool
) -> None:
    spec = TrainingSpec(algorithm=algorithm, target_column="bought", preprocessing=preprocessing)
    assert check_data(spec, people()).scaled is scaled


def test_preprocessing_off_with_numeric_features_is_not_scaled() -> None:
    spec = TrainingSpec(
        algorithm="LogisticRegression",
        target_column="bought",
        feature_columns=["spend"],
        preprocessing=PreprocessingSpec(enabled=False),
    )
    assert check_data(spec, people()).scaled is False


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (TrainingSpec(algorithm="Ridge", target_column="bought"), "is not numeric"),
        (TrainingSpec(algorithm="SVC", target_column="spend"), "continuous"),
        (TrainingSpec(algorithm="SVC", target_column="bought", feature_columns=["x"]), "not found"),
        (
            TrainingSpec(
                algorithm="SVC",
                target_column="bought",
                preprocessing=PreprocessingSpec(enabled=False),
            ),
            "not numeric: city, joined",
        ),
    ],
)
def test_the_data_problems_train_would_hit(spec: TrainingSpec, words: str) -> None:
    with pytest.raises(DataError, match=words):
        check_data(spec, people())


def test_too_few_usable_rows() -> None:
    frame = people().assign(bought=["yes", "no", None, None, None, "yes", None])
    with pytest.raises(DataError, match="only 3 usable rows"):
        check_data(TrainingSpec(algorithm="SVC", target_column="bought"), frame)


def test_a_task_the_algorithm_does_not_do_is_a_spec_error() -> None:
    spec = TrainingSpec(algorithm="SVC", target_column="bought", task="regression")
    with pytest.raises(SpecError) as caught:
        check_data(spec, people())
    assert caught.value.field == "algorithm_config.task"
