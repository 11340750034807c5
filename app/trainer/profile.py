"""A dry run of the trainer: every check ``train`` makes on the data, and a profile of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from app.trainer.algorithms import CLASSIFICATION, get_algorithm
from app.trainer.core import (
    MIN_ROWS,
    TrainingSpec,
    _target,
    make_estimator,
    resolve_task,
    select_columns,
)
from app.trainer.errors import DataError
from app.trainer.preprocessing import build_preprocessor, classify_columns


@dataclass
class DataReport:
    task: str
    feature_columns: list[str]
    column_kinds: dict[str, list[str]]
    estimator_parameters: dict[str, Any]
    scaled: bool
    profile: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _count(value: Any) -> str:
    return str(value.item() if hasattr(value, "item") else value)


def check_data(spec: TrainingSpec, frame: pd.DataFrame) -> DataReport:
    """Run the trainer's data checks on ``frame`` (raising ``DataError``) and profile it."""
    task = resolve_task(spec)
    features = select_columns(frame, spec)
    y, dropped = _target(frame, spec, task)
    X = frame.loc[y.index, features]
    if len(X) < MIN_ROWS:
        raise DataError(f"only {len(X)} usable rows; at least {MIN_ROWS} are needed")
    info = get_algorithm(spec.algorithm)
    preprocessor = build_preprocessor(X, spec.preprocessing, needs_scaling=info.needs_scaling)
    kinds = classify_columns(X)
    kind_of = dict.fromkeys(kinds.numeric, "numeric")
    kind_of.update(dict.fromkeys(kinds.categorical, "categorical"))
    kind_of.update(dict.fromkeys(kinds.datetime, "datetime"))
    kind_of[spec.target_column] = "target"
    columns = [*features, spec.target_column]
    profiles = [
        {
            "name": str(name),
            "dtype": str(frame[name].dtype),
            "kind": kind_of[name],
            "missing": int(frame[name].isna().sum()),
            "distinct": int(frame[name].nunique(dropna=True)),
        }
        for name in columns
    ]
    profile: dict[str, Any] = {
        "rows": int(len(frame)),
        "columns": len(columns),
        "rows_dropped_missing_target": dropped,
        "column_profiles": profiles,
    }
    notes = []
    if task == CLASSIFICATION:
        counts = y.value_counts()
        profile["class_balance"] = {_count(k): int(v) for k, v in counts.items()}
    else:
        described = y.astype("float64").describe()
        profile["target_summary"] = {
            k: float(described[k]) for k in ("min", "max", "mean", "std") if pd.notna(described[k])
        }
    if dropped:
        notes.append(f"{dropped} rows with a missing target would be dropped")
    scaler = spec.preprocessing.scaler
    scaled = (
        preprocessor is not None and scaler != "none" and (scaler != "auto" or info.needs_scaling)
    )
    return DataReport(
        task=task,
        feature_columns=[str(c) for c in features],
        column_kinds={
            "numeric": [str(c) for c in kinds.numeric],
            "categorical": [str(c) for c in kinds.categorical],
            "datetime": [str(c) for c in kinds.datetime],
        },
        estimator_parameters=make_estimator(spec).get_params(deep=False),
        scaled=scaled,
        profile=profile,
        notes=notes,
    )
