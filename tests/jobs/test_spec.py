"""From a request to what the trainer runs (``app.jobs.spec``), without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.config import Settings
from app.jobs.schemas import TrainingJobRequest
from app.jobs.spec import (
    jsonable,
    preprocessing_spec,
    request_hash,
    requested_columns,
    training_spec,
)
from app.trainer.preprocessing import PreprocessingSpec
from tests.fixtures.jobs import job_request


def request_of(**overrides: Any) -> TrainingJobRequest:
    return TrainingJobRequest.model_validate(job_request(**overrides))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_roots=[tmp_path], artifact_root=tmp_path / "artifacts", max_n_jobs=4)


def forest(**parameters: Any) -> dict[str, Any]:
    return {"name": "RandomForestClassifier", "parameters": parameters}


# -- training_spec: n_jobs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (None, 1),
        ({"max_runtime_seconds": 60}, 1),
        ({"n_jobs": 3}, 3),
        ({"n_jobs": 4}, 4),
        ({"n_jobs": 64}, 4),
        ({"n_jobs": -1}, 4),
    ],
)
def test_n_jobs_comes_from_resources_capped_by_the_setting(
    settings: Settings, resources: dict[str, Any] | None, expected: int
) -> None:
    spec = training_spec(request_of(resource_config=resources), settings)
    assert spec.n_jobs == expected


@pytest.mark.parametrize(("asked", "expected"), [(2, 2), (99, 4), (-1, 4), (1, 1)])
def test_an_n_jobs_parameter_is_capped_and_taken_out_of_the_parameters(
    settings: Settings, asked: int, expected: int
) -> None:
    spec = training_spec(
        request_of(algorithm_config=forest(n_estimators=5, n_jobs=asked)), settings
    )
    assert spec.n_jobs == expected
    assert spec.parameters == {"n_estimators": 5}


def test_the_n_jobs_parameter_wins_over_resources(settings: Settings) -> None:
    request = request_of(algorithm_config=forest(n_jobs=2), resource_config={"n_jobs": -1})
    assert training_spec(request, settings).n_jobs == 2


def test_a_non_integer_n_jobs_parameter_is_left_for_the_estimator_check(
    settings: Settings,
) -> None:
    spec = training_spec(request_of(algorithm_config=forest(n_jobs=None)), settings)
    assert spec.n_jobs == 1
    assert spec.parameters == {"n_jobs": None}


def test_parallel_trials_are_capped_by_the_setting(settings: Settings) -> None:
    request = request_of(
        hyperparameter_tuning_config={
            "strategy": "random",
            "search_space": {"max_depth": [2, 4]},
            "parallel_trials": 16,
        }
    )
    spec = training_spec(request, settings)
    assert spec.tuning is not None
    assert spec.tuning["parallel_trials"] == 4
    assert spec.tuning["search_space"] == {"max_depth": [2, 4]}
    assert request.hyperparameter_tuning_config is not None
    assert request.hyperparameter_tuning_config.parallel_trials == 16  # the request is untouched


def test_the_spec_carries_the_request(settings: Settings) -> None:
    request = request_of(
        data_source_config={
            "path": "sklearn://iris",
            "target_column": "target",
            "feature_columns": ["petal length (cm)"],
        },
        algorithm_config={"name": "SVC", "parameters": {"C": 2.0}, "task": "classification"},
        evaluation_config={"test_size": 0.3, "random_state": 7, "stratify": False},
    )
    spec = training_spec(request, settings)
    assert spec.algorithm == "SVC"
    assert spec.parameters == {"C": 2.0}
    assert spec.target_column == "target"
    assert spec.feature_columns == ["petal length (cm)"]
    assert spec.task == "classification"
    assert (spec.test_size, spec.random_state, spec.stratify) == (0.3, 7, False)
    assert spec.tuning is None
    assert spec.preprocessing == PreprocessingSpec()


# -- preprocessing_spec -------------------------------------------------------------------


def test_no_preprocessing_section_is_the_automatic_default() -> None:
    assert preprocessing_spec(request_of()) == PreprocessingSpec()


def test_the_preprocessing_section_is_copied_field_by_field() -> None:
    section = {
        "enabled": True,
        "numeric_imputation": "mean",
        "scaler": "robust",
        "categorical_imputation": "constant",
        "encoder": "ordinal",
        "max_categories": 12,
    }
    assert preprocessing_spec(request_of(preprocessing=section)) == PreprocessingSpec(**section)
    off = preprocessing_spec(request_of(preprocessing={"enabled": False}))
    assert off == PreprocessingSpec(enabled=False)


# -- request_hash -------------------------------------------------------------------------


def test_the_hash_is_stable_and_ignores_key_order() -> None:
    one = job_request(tags={"a": 1, "b": 2}, experiment_name="e")
    other = {key: one[key] for key in reversed(list(one))}
    other["tags"] = {"b": 2, "a": 1}
    assert list(one) != list(other)
    first = request_hash(TrainingJobRequest.model_validate(one))
    assert first == request_hash(TrainingJobRequest.model_validate(other))
    assert first == request_hash(TrainingJobRequest.model_validate(one))
    assert len(first) == 64
    int(first, 16)


def test_the_hash_counts_defaults_as_written() -> None:
    plain = request_of()
    explicit = request_of(evaluation_config={"test_size": 0.2, "random_state": 0})
    assert request_hash(plain) == request_hash(explicit)


@pytest.mark.parametrize(
    "change",
    [
        {"model_name": "another"},
        {"algorithm_config": forest(n_estimators=21)},
        {"tags": {"a": 1}},
        {"evaluation_config": {"random_state": 1}},
    ],
)
def test_any_difference_changes_the_hash(change: dict[str, Any]) -> None:
    assert request_hash(request_of()) != request_hash(request_of(**change))


# -- requested_columns --------------------------------------------------------------------


def test_requested_columns_are_the_features_then_the_target() -> None:
    request = request_of(
        data_source_config={
            "path": "x.csv",
            "target_column": "y",
            "feature_columns": ["b", "a"],
        }
    )
    assert requested_columns(request) == ["b", "a", "y"]


def test_without_feature_columns_every_column_is_read() -> None:
    assert requested_columns(request_of()) is None


# -- jsonable -----------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def test_jsonable_turns_numpy_sequences_and_objects_into_json_values() -> None:
    values = {
        "none": None,
        "flag": True,
        "count": 3,
        "rate": 0.5,
        "name": "gini",
        "np_int": np.int64(7),
        "np_float": np.float32(0.25),
        "np_bool": np.bool_(False),
        "pair": (1, np.int32(2)),
        "list": [np.float64(1.5), "x"],
        "nested": {"depth": np.int16(4), "thing": Opaque()},
        "object": Opaque(),
    }
    out = jsonable(values)
    assert out == {
        "none": None,
        "flag": True,
        "count": 3,
        "rate": 0.5,
        "name": "gini",
        "np_int": 7,
        "np_float": 0.25,
        "np_bool": False,
        "pair": [1, 2],
        "list": [1.5, "x"],
        "nested": {"depth": 4, "thing": "Opaque()"},
        "object": "Opaque()",
    }
    assert type(out["np_int"]) is int
    assert type(out["np_float"]) is float
    assert type(out["np_bool"]) is bool
    assert type(out["pair"][1]) is int


def test_jsonable_of_nothing_is_an_empty_dict() -> None:
    assert jsonable(None) == {}
    assert jsonable({}) == {}
