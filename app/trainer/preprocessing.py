"""Automatic preprocessing, built into the saved pipeline so predictions take raw rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from app.trainer.errors import DataError

Scaler = Literal["auto", "standard", "minmax", "robust", "none"]
# The ColumnTransformer's name for category columns a boosting library handles natively.
NATIVE_CATEGORICAL = "native_categorical"
NativeCategorical = Literal["codes", "text"]


@dataclass(frozen=True)
class PreprocessingSpec:
    enabled: bool = True
    numeric_imputation: Literal["mean", "median", "most_frequent"] = "median"
    scaler: Scaler = "auto"
    categorical_imputation: Literal["most_frequent", "constant"] = "most_frequent"
    # auto: the library's native categorical handling for XGBoost, LightGBM and CatBoost,
    # one-hot for every other estimator.
    encoder: Literal["auto", "onehot", "ordinal"] = "auto"
    max_categories: int | None = None


class CategoricalAsText(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Cast values to ``str`` (missing stays missing) so each column holds one type.

    JSON rows at prediction time carry ``true`` where the training file had ``True``;
    both become ``"True"`` here, and the encoder sees the same category.
    """

    def fit(self, X: Any, y: Any = None) -> CategoricalAsText:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> np.ndarray[Any, Any]:
        frame = pd.DataFrame(X)
        missing = frame.isna().to_numpy()
        # A copy: under pandas' copy-on-write, to_numpy() may hand back a read-only view.
        out = np.array(frame.astype(str), dtype=object, copy=True)
        out[missing] = np.nan
        return out

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return np.asarray(input_features, dtype=object)


class DatetimeFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Expand each datetime column into year, month, day, weekday and hour numbers."""

    parts = ("year", "month", "day", "weekday", "hour")

    def fit(self, X: Any, y: Any = None) -> DatetimeFeatures:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> np.ndarray[Any, Any]:
        frame = pd.DataFrame(X)
        columns = []
        for name in frame.columns:
            # Timestamps, dates, or ISO 8601 text (JSON rows at prediction time).
            values = _to_datetime(frame[name])
            for part in self.parts:
                attribute = "day_of_week" if part == "weekday" else part
                columns.append(getattr(values.dt, attribute).astype("float64").to_numpy())
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        names = list(input_features) if input_features is not None else []
        return np.asarray([f"{n}_{p}" for n in names for p in self.parts], dtype=object)


@dataclass(frozen=True)
class ColumnKinds:
    numeric: list[str]
    categorical: list[str]
    datetime: list[str]


ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
)
DATETIME_SAMPLE = 1000


def looks_like_datetime(values: pd.Series) -> bool:
    """Text columns whose sampled non-missing values are all ISO 8601 dates or timestamps.

    Other date spellings (``03/04/2021``) are ambiguous (day or month first?) and stay
    categories; write them as ISO 8601 to have them expanded.
    """
    sample = values.dropna().head(DATETIME_SAMPLE)
    if sample.empty:
        return False
    if all(isinstance(v, date) for v in sample):  # pyarrow reads a date-only column so
        return True
    return bool(
        all(isinstance(v, str) and ISO_DATETIME.match(v.strip()) for v in sample)
        and _to_datetime(sample).notna().all()
    )


def _to_datetime(values: pd.Series) -> pd.Series:
    """UTC timestamps from datetimes, ``date`` objects or ISO 8601 text (else missing)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.to_datetime(values, utc=True)
    text = values.map(lambda v: v.isoformat() if isinstance(v, date) else v)
    return pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")


def classify_columns(frame: pd.DataFrame) -> ColumnKinds:
    numeric, categorical, datetime = [], [], []
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(dtype):
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            datetime.append(name)
        elif looks_like_datetime(frame[name]):
            datetime.append(name)
        else:
            categorical.append(name)
    return ColumnKinds(numeric, categorical, datetime)


def _scaler(spec: PreprocessingSpec, needs_scaling: bool) -> Any:
    choice = spec.scaler
    if choice == "auto":
        choice = "standard" if needs_scaling else "none"
    return {
        "standard": StandardScaler(),
        "minmax": MinMaxScaler(),
        "robust": RobustScaler(),
        "none": "passthrough",
    }[choice]


def build_preprocessor(
    frame: pd.DataFrame,
    spec: PreprocessingSpec,
    *,
    needs_scaling: bool,
    native_categorical: NativeCategorical | None = None,
) -> ColumnTransformer | None:
    """A ColumnTransformer for the feature frame, or None when preprocessing is off.

    ``native_categorical`` (with ``encoder="auto"``) keeps one column per category column for
    a library that handles categories itself: ``codes`` (XGBoost, LightGBM: integer codes,
    missing and unseen values missing) or ``text`` (CatBoost: the values as text, missing as
    its own category; unseen ones CatBoost handles).
    """
    if not spec.enabled:
        non_numeric = [
            c
            for c in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[c].dtype)
            or pd.api.types.is_bool_dtype(frame[c].dtype)
        ]
        if non_numeric:
            raise DataError(
                "preprocessing is disabled, but these feature columns are not numeric: "
                + ", ".join(map(str, non_numeric))
            )
        return None

    kinds = classify_columns(frame)
    transformers: list[tuple[str, Any, list[str]]] = []
    if kinds.numeric:
        numeric = Pipeline(
            [
                ("impute", SimpleImputer(strategy=spec.numeric_imputation)),
                ("scale", _scaler(spec, needs_scaling)),
            ]
        )
        transformers.append(("numeric", numeric, kinds.numeric))
    if kinds.datetime:
        dates = Pipeline(
            [
                ("expand", DatetimeFeatures()),
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", _scaler(spec, needs_scaling)),
            ]
        )
        transformers.append(("datetime", dates, kinds.datetime))
    if kinds.categorical and native_categorical == "text" and spec.encoder == "auto":
        text = SimpleImputer(strategy="constant", fill_value="__missing__")
        native = Pipeline([("as_text", CategoricalAsText()), ("impute", text)])
        transformers.append((NATIVE_CATEGORICAL, native, kinds.categorical))
    elif kinds.categorical and native_categorical == "codes" and spec.encoder == "auto":
        codes = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            max_categories=spec.max_categories,
        )
        native = Pipeline([("as_text", CategoricalAsText()), ("encode", codes)])
        transformers.append((NATIVE_CATEGORICAL, native, kinds.categorical))
    elif kinds.categorical:
        encoder: Any
        if spec.encoder in ("auto", "onehot"):
            encoder = OneHotEncoder(
                handle_unknown="ignore", sparse_output=False, max_categories=spec.max_categories
            )
        else:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                max_categories=spec.max_categories,
            )
        imputer = (
            SimpleImputer(strategy="constant", fill_value="__missing__")
            if spec.categorical_imputation == "constant"
            else SimpleImputer(strategy="most_frequent")
        )
        categorical = Pipeline(
            [("as_text", CategoricalAsText()), ("impute", imputer), ("encode", encoder)]
        )
        transformers.append(("categorical", categorical, kinds.categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
