"""The allow-list of estimators and the checks of their parameters (``app.trainer.algorithms``)."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from app.trainer import SpecError
from app.trainer.algorithms import _import_path, build_estimator, get_algorithm, registry


def test_every_allowed_estimator_builds_with_its_defaults_and_has_a_task() -> None:
    for name, info in registry().items():
        assert info.name == name
        assert info.task in {"classification", "regression"}
        estimator = build_estimator(info, {})
        # XGBoost's classifier is built as a subclass that decodes its labels.
        assert isinstance(estimator, info.estimator_class)


def test_the_allow_list_leaves_out_meta_and_multi_output_estimators() -> None:
    names = set(registry())
    for refused in ("ClassifierChain", "MultiOutputClassifier", "IsotonicRegression", "CCA"):
        assert refused not in names
    # Estimators that need another estimator as an argument cannot stand alone.
    assert "StackingClassifier" not in names
    assert "VotingClassifier" not in names
    assert list(registry()) == sorted(registry())


def test_defaults_are_the_estimators_own() -> None:
    info = get_algorithm("LogisticRegression")
    assert info.defaults == LogisticRegression().get_params(deep=False)


@pytest.mark.parametrize(
    ("name", "scaled", "n_jobs", "seeded"),
    [
        ("RandomForestClassifier", False, True, True),
        ("DecisionTreeRegressor", False, False, True),
        ("GaussianNB", False, False, False),
        ("LogisticRegression", True, True, True),
        ("SVR", True, False, False),
        ("KNeighborsClassifier", True, True, False),
    ],
)
def test_what_an_estimator_needs_is_read_from_it(
    name: str, scaled: bool, n_jobs: bool, seeded: bool
) -> None:
    info = get_algorithm(name)
    assert info.needs_scaling is scaled
    assert info.supports_n_jobs is n_jobs
    assert info.supports_random_state is seeded


def test_constraints_are_rendered_for_every_parameter() -> None:
    info = get_algorithm("RandomForestClassifier")
    constraints = info.constraints()
    assert set(constraints) == set(info.defaults)
    assert "Interval" in constraints["n_estimators"] or "int" in constraints["n_estimators"]


def test_an_unknown_algorithm_suggests_close_names() -> None:
    with pytest.raises(SpecError) as caught:
        get_algorithm("RandomForestClasifier")
    assert caught.value.field == "algorithm_config.name"
    assert "did you mean RandomForestClassifier" in caught.value.message


def test_a_name_nothing_resembles_points_to_the_listing() -> None:
    with pytest.raises(SpecError) as caught:
        get_algorithm("zzzz", field="somewhere.name")
    assert caught.value.field == "somewhere.name"
    assert "GET /v1/algorithms" in caught.value.message


def test_good_parameters_are_set_on_the_estimator() -> None:
    estimator = build_estimator(
        get_algorithm("RandomForestClassifier"), {"n_estimators": 7, "max_depth": 3}
    )
    assert isinstance(estimator, RandomForestClassifier)
    assert estimator.get_params()["n_estimators"] == 7
    assert estimator.get_params()["max_depth"] == 3


@pytest.mark.parametrize(
    ("name", "parameters", "field", "words"),
    [
        ("SVC", {"kernal": "rbf"}, "algorithm_config.parameters.kernal", "did you mean kernel"),
        ("SVC", {"zzz": 1}, "algorithm_config.parameters.zzz", "SVC has no parameter 'zzz'"),
        ("SVC", {"C": "big"}, "algorithm_config.parameters.C", "must be a float"),
        ("SVC", {"C": -1.0}, "algorithm_config.parameters.C", "range"),
        (
            "RandomForestClassifier",
            {"n_estimators": 2.5},
            "algorithm_config.parameters.n_estimators",
            "int",
        ),
        ("LogisticRegression", {"penalty": "l3"}, "algorithm_config.parameters.penalty", "penalty"),
        ("Ridge", {"solver": "fastest"}, "algorithm_config.parameters.solver", "solver"),
    ],
)
def test_bad_parameters_name_the_parameter(
    name: str, parameters: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        build_estimator(get_algorithm(name), parameters)
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    "value",
    [
        "os.system",
        "subprocess:run",
        "builtins.eval",
        ["euclidean", "os.path.join"],
        {"nested": "shutil.rmtree"},
        {"shutil.rmtree": 1},
    ],
)
def test_import_path_looking_strings_are_refused_at_any_depth(value: Any) -> None:
    with pytest.raises(SpecError) as caught:
        build_estimator(get_algorithm("KNeighborsClassifier"), {"metric": value})
    assert caught.value.field == "algorithm_config.parameters.metric"
    assert "looks like an import path" in caught.value.message


@pytest.mark.parametrize("value", ["euclidean", "cosine", "l1", "minkowski"])
def test_plain_string_values_are_accepted(value: str) -> None:
    estimator = build_estimator(get_algorithm("KNeighborsClassifier"), {"metric": value})
    assert estimator.get_params()["metric"] == value


@pytest.mark.parametrize("value", ["a.b c", ".hidden", "1.5", "v1.", "http://x", "x"])
def test_strings_with_a_dot_that_name_no_attribute_are_not_import_paths(value: str) -> None:
    assert _import_path(value) is None
    assert _import_path([value, {"k": value}]) is None


def test_the_field_prefix_is_the_callers() -> None:
    with pytest.raises(SpecError) as caught:
        build_estimator(
            get_algorithm("SVC"), {"C": "x"}, field="hyperparameter_tuning_config.search_space"
        )
    assert caught.value.field == "hyperparameter_tuning_config.search_space.C"
