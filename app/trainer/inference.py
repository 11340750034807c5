"""Predict with a saved pipeline on raw rows given as records (JSON objects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.trainer.errors import SpecError

MAX_REPORTED_ROWS = 10


@dataclass(frozen=True)
class Prediction:
    predictions: list[Any]
    classes: list[Any] | None = None
    probabilities: list[list[float]] | None = None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _numeric_columns(pipeline: Any) -> list[str]:
    """The columns the fitted preprocessor treats as numbers."""
    preprocess = getattr(pipeline, "named_steps", {}).get("preprocess")
    for name, _, columns in getattr(preprocess, "transformers_", []):
        if name == "numeric":
            return [str(c) for c in columns]
    return []


def check_columns(rows: list[dict[str, Any]], feature_columns: list[str]) -> list[SpecError]:
    """One error per row (for the first rows) that lacks a feature column or has another."""
    expected = set(feature_columns)
    errors: list[SpecError] = []
    bad_rows = 0
    for index, row in enumerate(rows):
        missing = [c for c in feature_columns if c not in row]
        extra = sorted(k for k in row if k not in expected)
        if not missing and not extra:
            continue
        bad_rows += 1
        if bad_rows > MAX_REPORTED_ROWS:
            continue
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if extra:
            parts.append("unexpected columns: " + ", ".join(extra))
        errors.append(SpecError(f"rows.{index}", "; ".join(parts)))
    if bad_rows > MAX_REPORTED_ROWS:
        errors.append(
            SpecError("rows", f"{bad_rows - MAX_REPORTED_ROWS} more rows have column problems")
        )
    return errors


def rows_to_frame(
    pipeline: Any, rows: list[dict[str, Any]], feature_columns: list[str]
) -> pd.DataFrame:
    """The rows as the frame the pipeline was fitted on: its columns, in its order.

    Numeric columns are converted to numbers (null stays missing and is imputed); a value
    that is not a number is an error naming its row and column.
    """
    frame = pd.DataFrame.from_records(rows, columns=feature_columns)
    errors: list[SpecError] = []
    for column in _numeric_columns(pipeline):
        if column not in frame.columns:
            continue
        values = frame[column]
        numbers = values.map(lambda v: float(v) if isinstance(v, int | float) else np.nan)
        bad = values.notna() & numbers.isna()
        for index in np.flatnonzero(bad.to_numpy())[:MAX_REPORTED_ROWS]:
            errors.append(
                SpecError(
                    f"rows.{index}.{column}",
                    f"{values.iloc[index]!r} is not a number, and column {column!r} is numeric",
                )
            )
        frame[column] = numbers.astype("float64")
    if errors:
        raise PredictionInputError(errors)
    return frame


class PredictionInputError(ValueError):
    """Several rows or values the model cannot take."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def predict(pipeline: Any, frame: pd.DataFrame) -> Prediction:
    """Predictions, and class probabilities where the estimator has them."""
    predictions = [_plain(v) for v in pipeline.predict(frame)]
    classes = getattr(pipeline, "classes_", None)
    if classes is None or not hasattr(pipeline, "predict_proba"):
        return Prediction(predictions)
    try:
        probabilities = pipeline.predict_proba(frame)
    except AttributeError:
        # e.g. SVC(probability=False): has the method, refuses to run it
        return Prediction(predictions)
    return Prediction(
        predictions,
        classes=[_plain(c) for c in classes],
        probabilities=[[float(p) for p in row] for row in probabilities],
    )
