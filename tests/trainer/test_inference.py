"""Predictions on raw JSON rows (``app.trainer.inference``) with real fitted pipelines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.trainer import TrainingResult, TrainingSpec, train
from app.trainer.inference import (
    MAX_REPORTED_ROWS,
    PredictionInputError,
    check_columns,
    predict,
    rows_to_frame,
)

FEATURES = ["size", "colour"]


def data(rows: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    size = rng.normal(10, 3, size=rows)
    colour = rng.choice(["red", "blue", "green"], size=rows)
    return pd.DataFrame(
        {
            "size": size,
            "colour": colour,
            "label": np.where(size > 10, "big", "small"),
            "price": size * 2 + (colour == "red"),
        }
    )


@pytest.fixture(scope="module")
def classifier() -> TrainingResult:
    spec = TrainingSpec(
        algorithm="LogisticRegression", target_column="label", feature_columns=FEATURES
    )
    return train(spec, data())


@pytest.fixture(scope="module")
def regressor() -> TrainingResult:
    spec = TrainingSpec(algorithm="Ridge", target_column="price", feature_columns=FEATURES)
    return train(spec, data())


def test_rows_with_exactly_the_features_pass() -> None:
    assert check_columns([{"size": 1, "colour": "red"}, {"colour": "x", "size": 2}], FEATURES) == []


def test_missing_and_unexpected_columns_are_named_per_row() -> None:
    errors = check_columns(
        [{"size": 1, "colour": "red"}, {"size": 1}, {"size": 1, "colour": "r", "weight": 3}],
        FEATURES,
    )
    assert [(e.field, e.message) for e in errors] == [
        ("rows.1", "missing columns: colour"),
        ("rows.2", "unexpected columns: weight"),
    ]


def test_only_the_first_bad_rows_are_reported_then_a_count() -> None:
    errors = check_columns([{"size": 1}] * (MAX_REPORTED_ROWS + 5), FEATURES)
    assert len(errors) == MAX_REPORTED_ROWS + 1
    assert errors[-1].field == "rows"
    assert "5 more rows" in errors[-1].message


def test_rows_become_the_training_frame_in_its_column_order(classifier: TrainingResult) -> None:
    rows: list[dict[str, Any]] = [{"colour": "red", "size": 3}, {"colour": None, "size": None}]
    frame = rows_to_frame(classifier.pipeline, rows, FEATURES)
    assert list(frame.columns) == FEATURES
    assert frame["size"].dtype == "float64"
    assert frame["size"].iloc[0] == 3.0
    assert np.isnan(frame["size"].iloc[1])  # null stays missing, to be imputed


def test_a_value_that_is_not_a_number_in_a_numeric_column_is_named(
    classifier: TrainingResult,
) -> None:
    rows = [{"size": "ten", "colour": "red"}, {"size": 1, "colour": "red"}, {"size": True}]
    with pytest.raises(PredictionInputError) as caught:
        rows_to_frame(classifier.pipeline, [{**r, "colour": "red"} for r in rows], FEATURES)
    fields = [e.field for e in caught.value.errors]
    assert fields[0] == "rows.0.size"
    assert "'ten' is not a number" in caught.value.errors[0].message
    assert "rows.1.size" not in fields
    # Text in a categorical column is fine.
    rows_to_frame(classifier.pipeline, [{"size": 1, "colour": 12}], FEATURES)


def test_classifier_predictions_come_with_probabilities_per_class(
    classifier: TrainingResult,
) -> None:
    frame = rows_to_frame(
        classifier.pipeline,
        [{"size": 20.0, "colour": "red"}, {"size": 1.0, "colour": "purple"}],
        FEATURES,
    )
    result = predict(classifier.pipeline, frame)
    assert result.predictions == ["big", "small"]
    assert result.classes == ["big", "small"]
    assert result.probabilities is not None
    for row, label in zip(result.probabilities, result.predictions, strict=True):
        assert sum(row) == pytest.approx(1.0)
        assert row[result.classes.index(label)] > 0.5
    assert all(type(p) is float for p in result.probabilities[0])


def test_regressor_predictions_are_plain_numbers_without_probabilities(
    regressor: TrainingResult,
) -> None:
    frame = rows_to_frame(regressor.pipeline, [{"size": 10.0, "colour": "blue"}], FEATURES)
    result = predict(regressor.pipeline, frame)
    assert result.classes is None
    assert result.probabilities is None
    assert type(result.predictions[0]) is float
    assert result.predictions[0] == pytest.approx(20.0, abs=1.0)


def test_a_classifier_without_probabilities_still_predicts() -> None:
    spec = TrainingSpec(algorithm="SVC", target_column="label", feature_columns=FEATURES)
    pipeline = train(spec, data()).pipeline
    frame = rows_to_frame(pipeline, [{"size": 20.0, "colour": "red"}], FEATURES)
    result = predict(pipeline, frame)
    assert result.predictions == ["big"]
    assert result.probabilities is None
