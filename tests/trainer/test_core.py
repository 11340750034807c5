"""The pure ML core, without web or database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.trainer import DataError, SpecError, TrainingSpec, train
from app.trainer.algorithms import build_estimator, get_algorithm, registry
from app.trainer.artifacts import UntrustedModelError, load_model, write_artifacts


def mixed_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    colour[::17] = None
    size = rng.normal(10, 3, size=rows)
    size[::13] = np.nan
    flag = rng.choice([True, False], size=rows).astype(object)
    flag[::19] = None
    label = np.where((colour == "red") | (size > 11), "yes", "no")
    return pd.DataFrame({"colour": colour, "size": size, "flag": flag, "label": label})


@pytest.mark.parametrize("algorithm", ["RandomForestClassifier", "LogisticRegression"])
def test_mixed_types_and_missing_values_train_and_predict_unseen_categories(
    algorithm: str, tmp_path: Path
) -> None:
    result = train(TrainingSpec(algorithm=algorithm, target_column="label"), mixed_frame())
    assert result.metrics["validation_accuracy"] > 0.6
    write_artifacts(tmp_path, result.pipeline, metrics=result.metrics, spec={}, lineage={})
    model = load_model(tmp_path / "model.skops")
    raw = pd.DataFrame(
        [
            {"colour": "purple", "size": None, "flag": True},
            {"colour": "red", "size": 3.0, "flag": None},
        ]
    )
    assert set(model.predict(raw)) <= {"yes", "no"}


def test_missing_targets_are_dropped_and_counted() -> None:
    frame = mixed_frame()
    frame.loc[frame.index[:7], "label"] = None
    result = train(TrainingSpec(algorithm="DecisionTreeClassifier", target_column="label"), frame)
    assert result.metrics["rows_dropped_missing_target"] == 7
    assert result.rows["dropped_missing_target"] == 7
    assert "7 rows with a missing target were dropped" in result.notes


@pytest.mark.parametrize(
    ("frame", "algorithm", "words"),
    [
        (pd.DataFrame({"x": range(10), "y": ["a"] * 10}), "LogisticRegression", "single class"),
        (pd.DataFrame({"x": range(10), "y": list("abcdeabcde")}), "Ridge", "is not numeric"),
        (pd.DataFrame({"x": range(10), "y": np.linspace(0, 1, 10)}), "SVC", "continuous"),
        (pd.DataFrame({"x": range(3), "y": [0, 1, 0]}), "SVC", "at least 5 are needed"),
        (pd.DataFrame({"x": range(10), "y": [None] * 10}), "SVC", "has no values"),
    ],
)
def test_unusable_data_is_a_clear_error(frame: pd.DataFrame, algorithm: str, words: str) -> None:
    with pytest.raises(DataError, match=words):
        train(TrainingSpec(algorithm=algorithm, target_column="y"), frame)


def test_missing_and_duplicate_columns_are_named() -> None:
    frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    with pytest.raises(DataError, match="columns not found in the data: nope"):
        train(TrainingSpec(algorithm="SVC", target_column="y", feature_columns=["nope"]), frame)
    duplicated = pd.concat([frame, frame[["x"]]], axis=1)
    with pytest.raises(DataError, match="duplicate column names: x"):
        train(TrainingSpec(algorithm="SVC", target_column="y"), duplicated)


def test_allow_list_holds_plain_estimators_only() -> None:
    names = set(registry())
    assert {
        "RandomForestClassifier",
        "LogisticRegression",
        "SVC",
        "Ridge",
        "HistGradientBoostingRegressor",
    } <= names
    assert not names & {"StackingClassifier", "VotingRegressor", "MultiOutputRegressor", "CCA"}
    assert get_algorithm("Ridge").task == "regression"
    assert get_algorithm("SVC").task == "classification"


def test_parameters_are_checked_by_scikit_learn_constraints() -> None:
    info = get_algorithm("RandomForestClassifier")
    with pytest.raises(SpecError) as unknown:
        build_estimator(info, {"n_estimator": 5})
    assert unknown.value.field == "algorithm_config.parameters.n_estimator"
    assert "did you mean n_estimators" in unknown.value.message
    with pytest.raises(SpecError) as invalid:
        build_estimator(info, {"criterion": "best"})
    assert invalid.value.field == "algorithm_config.parameters.criterion"
    # An object where scikit-learn wants an estimator cannot come in as a string.
    with pytest.raises(SpecError):
        build_estimator(get_algorithm("AdaBoostClassifier"), {"estimator": "os.system"})


def test_untrusted_types_in_a_model_file_are_refused(tmp_path: Path) -> None:
    import skops.io as sio

    sio.dump({"payload": Path("/etc/passwd")}, tmp_path / "model.skops")
    with pytest.raises(UntrustedModelError, match="untrusted types"):
        load_model(tmp_path / "model.skops")
