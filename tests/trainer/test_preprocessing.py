"""Automatic preprocessing (``app.trainer.preprocessing``): column kinds, imputation, scaling
where the estimator needs it, encoders, and what the fitted transformer does to raw rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from app.trainer import DataError
from app.trainer.preprocessing import (
    CategoricalAsText,
    DatetimeFeatures,
    PreprocessingSpec,
    build_preprocessor,
    classify_columns,
    looks_like_datetime,
)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20.0, np.nan, 40.0, 60.0],
            "visits": [1, 2, 3, 10],
            "city": ["Oslo", None, "Rome", "Oslo"],
            "member": [True, False, True, False],
            "joined": ["2021-01-05", "2022-06-30T08:15:00", None, "2023-12-24 23:59"],
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
        }
    )


def steps(preprocessor: Any, kind: str) -> dict[str, Any]:
    for name, pipeline, columns in preprocessor.transformers:
        if name == kind:
            return {"columns": columns, **dict(pipeline.steps)}
    raise AssertionError(f"no {kind} transformer in {preprocessor.transformers}")


def test_columns_are_classified_numeric_categorical_or_datetime() -> None:
    kinds = classify_columns(frame())
    assert kinds.numeric == ["age", "visits"]
    assert kinds.categorical == ["city", "member"]  # booleans are categories
    assert kinds.datetime == ["joined", "seen"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2021-01-05", "2021-02-05"], True),
        (["2021-01-05T10:00:00Z", None, "2021-01-05 10:00:00+02:00"], True),
        ([dt.date(2021, 1, 5), dt.date(2022, 1, 5)], True),
        (["03/04/2021", "04/05/2021"], False),  # ambiguous: stays a category
        (["2021-01-05", "soon"], False),
        (["2021-13-45"], False),  # shaped like a date, but no such day
        ([None, None], False),
        ([1, 2], False),
    ],
)
def test_iso_dates_are_recognised_and_nothing_else(values: list[Any], expected: bool) -> None:
    assert looks_like_datetime(pd.Series(values, dtype=object)) is expected


def test_numeric_imputation_and_standard_scaling_when_the_estimator_needs_it() -> None:
    preprocessor = build_preprocessor(frame(), PreprocessingSpec(), needs_scaling=True)
    assert preprocessor is not None
    numeric = steps(preprocessor, "numeric")
    assert numeric["columns"] == ["age", "visits"]
    assert numeric["impute"].strategy == "median"
    assert isinstance(numeric["scale"], StandardScaler)
    out = preprocessor.fit(frame()).transform(frame())
    names = list(preprocessor.get_feature_names_out())
    age = out[:, names.index("age")]
    assert not np.isnan(out.astype(float)).any()
    assert age.mean() == pytest.approx(0.0)
    assert age.std() == pytest.approx(1.0)


def test_no_scaling_for_scale_free_estimators() -> None:
    preprocessor = build_preprocessor(frame(), PreprocessingSpec(), needs_scaling=False)
    assert preprocessor is not None
    assert steps(preprocessor, "numeric")["scale"] == "passthrough"
    assert steps(preprocessor, "datetime")["scale"] == "passthrough"
    out = preprocessor.fit(frame()).transform(frame())
    names = list(preprocessor.get_feature_names_out())
    assert list(out[:, names.index("age")]) == [20.0, 40.0, 40.0, 60.0]  # median-imputed
    assert list(out[:, names.index("visits")]) == [1, 2, 3, 10]


@pytest.mark.parametrize(
    ("scaler", "kind"),
    [("standard", StandardScaler), ("minmax", MinMaxScaler), ("robust", RobustScaler)],
)
def test_an_explicit_scaler_applies_whatever_the_estimator(scaler: Any, kind: type) -> None:
    spec = PreprocessingSpec(scaler=scaler)
    preprocessor = build_preprocessor(frame(), spec, needs_scaling=False)
    assert preprocessor is not None
    assert isinstance(steps(preprocessor, "numeric")["scale"], kind)


def test_scaler_none_leaves_numbers_alone_even_when_the_estimator_wants_scaling() -> None:
    spec = PreprocessingSpec(scaler="none", numeric_imputation="mean")
    preprocessor = build_preprocessor(frame(), spec, needs_scaling=True)
    assert preprocessor is not None
    out = preprocessor.fit(frame()).transform(frame())
    names = list(preprocessor.get_feature_names_out())
    assert out[1, names.index("age")] == pytest.approx(40.0)  # mean of 20, 40, 60


def test_categories_are_imputed_and_one_hot_encoded_ignoring_unknowns() -> None:
    preprocessor = build_preprocessor(frame(), PreprocessingSpec(), needs_scaling=True)
    assert preprocessor is not None
    categorical = steps(preprocessor, "categorical")
    assert categorical["columns"] == ["city", "member"]
    assert isinstance(categorical["encode"], OneHotEncoder)
    preprocessor.fit(frame())
    names = list(preprocessor.get_feature_names_out())
    assert {"city_Oslo", "city_Rome", "member_True", "member_False"} <= set(names)
    assert "city_None" not in names  # the missing city became the most frequent one
    unseen = frame().assign(city=["Paris"] * 4, member=[True] * 4)
    out = preprocessor.transform(unseen)
    assert out[:, names.index("city_Oslo")].sum() == 0
    assert out[:, names.index("city_Rome")].sum() == 0
    assert out[:, names.index("member_True")].sum() == 4


def test_constant_imputation_makes_missing_a_category() -> None:
    spec = PreprocessingSpec(categorical_imputation="constant")
    preprocessor = build_preprocessor(frame(), spec, needs_scaling=False)
    assert preprocessor is not None
    preprocessor.fit(frame())
    assert "city___missing__" in list(preprocessor.get_feature_names_out())


def test_ordinal_encoding_marks_unknown_categories_minus_one() -> None:
    spec = PreprocessingSpec(encoder="ordinal")
    preprocessor = build_preprocessor(frame(), spec, needs_scaling=False)
    assert preprocessor is not None
    assert isinstance(steps(preprocessor, "categorical")["encode"], OrdinalEncoder)
    preprocessor.fit(frame())
    names = list(preprocessor.get_feature_names_out())
    out = preprocessor.transform(frame().assign(city=["Paris", "Oslo", "Rome", "Oslo"]))
    assert list(out[:, names.index("city")]) == [-1, 0, 1, 0]


def test_max_categories_groups_rare_ones() -> None:
    data = pd.DataFrame({"c": list("aaaabbbcd")})
    spec = PreprocessingSpec(max_categories=2)
    preprocessor = build_preprocessor(data, spec, needs_scaling=False)
    assert preprocessor is not None
    out = preprocessor.fit_transform(data)
    assert out.shape == (9, 2)  # "a" and everything else


def test_dates_expand_into_numbers_and_text_dates_match_timestamps() -> None:
    preprocessor = build_preprocessor(frame(), PreprocessingSpec(), needs_scaling=False)
    assert preprocessor is not None
    preprocessor.fit(frame())
    names = list(preprocessor.get_feature_names_out())
    for part in DatetimeFeatures.parts:
        assert f"joined_{part}" in names
        assert f"seen_{part}" in names
    out = preprocessor.transform(frame())
    assert out[1, names.index("joined_year")] == 2022
    assert out[1, names.index("joined_month")] == 6
    assert out[1, names.index("joined_hour")] == 8
    assert out[0, names.index("seen_weekday")] == 0  # 2024-01-01 was a Monday
    assert not np.isnan(out[2, names.index("joined_year")])  # missing date imputed
    # JSON rows carry ISO text where training had timestamps: the same numbers come out.
    as_text = frame().assign(seen=["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    again = preprocessor.transform(as_text)
    assert np.allclose(again.astype(float), out.astype(float))


def test_categorical_as_text_keeps_missing_missing_and_unifies_types() -> None:
    transformed = CategoricalAsText().fit_transform(pd.DataFrame({"a": [True, "True", None, 3]}))
    assert list(transformed[:, 0][[0, 1, 3]]) == ["True", "True", "3"]
    assert transformed[2, 0] is np.nan
    transformed[0, 0] = "writable"  # a copy, never a read-only view


def test_with_preprocessing_off_there_is_no_transformer() -> None:
    numbers = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    assert build_preprocessor(numbers, PreprocessingSpec(enabled=False), needs_scaling=True) is None


def test_with_preprocessing_off_non_numeric_features_are_named() -> None:
    with pytest.raises(DataError) as caught:
        build_preprocessor(frame(), PreprocessingSpec(enabled=False), needs_scaling=True)
    message = caught.value.message
    assert "not numeric" in message
    for column in ("city", "member", "joined", "seen"):
        assert column in message
    assert "age" not in message
