"""Submit-time checks of a search space and the count of fits (``app.trainer.tuning``), and one
small real search per strategy."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from app.trainer import SpecError, TrainingSpec, train
from app.trainer.algorithms import get_algorithm
from app.trainer.tuning import check_search, planned_trials

FIELD = "hyperparameter_tuning_config"


def tuning(strategy: str, space: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "search_space": space,
        "max_trials": 10,
        "cv_folds": 3,
        "objective_metric": None,
        "direction": None,
        **extra,
    }


def check(spec: dict[str, Any], name: str = "RandomForestClassifier", max_fits: int = 1000) -> None:
    info = get_algorithm(name)
    check_search(spec, info, info.task, max_fits=max_fits)


def refused(spec: dict[str, Any], name: str = "RandomForestClassifier", **kw: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        check(spec, name, **kw)
    return caught.value


@pytest.mark.parametrize(
    "spec",
    [
        tuning("grid", {"max_depth": [2, 4, None], "criterion": ["gini", "entropy"]}),
        tuning("random", {"max_depth": {"type": "int", "low": 2, "high": 8}}),
        tuning(
            "random",
            {"max_features": {"type": "float", "low": 0.1, "high": 1.0, "log": True}},
        ),
        tuning("bayesian", {"min_samples_leaf": {"type": "int", "low": 1, "high": 5}}),
        tuning("bayesian", {"criterion": {"type": "categorical", "choices": ["gini", "entropy"]}}),
        tuning("halving", {"max_depth": [2, 4, 8]}),
        tuning("halving", {"max_depth": {"type": "int", "low": 2, "high": 8}}),
        tuning("random", {"n_estimators": [5, 10]}, objective_metric="f1_macro"),
    ],
)
def test_good_spaces_pass(spec: dict[str, Any]) -> None:
    check(spec)


def test_grid_needs_lists_not_ranges() -> None:
    error = refused(tuning("grid", {"max_depth": {"type": "int", "low": 2, "high": 8}}))
    assert error.field == f"{FIELD}.search_space.max_depth"
    assert "grid strategy needs a list" in error.message


def test_a_parameter_the_estimator_does_not_have() -> None:
    error = refused(tuning("random", {"depth": [1, 2]}))
    assert error.field == f"{FIELD}.search_space.depth"
    assert "has no parameter 'depth'" in error.message


def test_n_jobs_is_not_searched() -> None:
    error = refused(tuning("grid", {"n_jobs": [1, 2]}))
    assert error.field == f"{FIELD}.search_space.n_jobs"
    assert "resource_config" in error.message


@pytest.mark.parametrize(
    "dimension",
    [
        ["gini", "nonsense"],
        {"type": "categorical", "choices": ["gini", 3]},
        {"type": "int", "low": 0, "high": 5},  # n_estimators must be >= 1: the low end fails
    ],
)
def test_every_value_of_a_dimension_is_checked_by_scikit_learn(dimension: Any) -> None:
    name = "n_estimators" if isinstance(dimension, dict) and "low" in dimension else "criterion"
    error = refused(tuning("random", {name: dimension}))
    assert error.field == f"{FIELD}.search_space.{name}"


def test_import_paths_are_refused_inside_a_search_space() -> None:
    error = refused(tuning("grid", {"metric": ["euclidean", "os.system"]}), "KNeighborsClassifier")
    assert error.field == f"{FIELD}.search_space.metric"
    assert "import path" in error.message


def test_an_unknown_objective_is_refused_with_the_default_named() -> None:
    error = refused(tuning("random", {"max_depth": [2]}, objective_metric="accuracyy"))
    assert error.field == f"{FIELD}.objective_metric"
    assert "'accuracy'" in error.message
    regression = refused(tuning("random", {"alpha": [1.0]}, objective_metric="nope"), "Ridge")
    assert "'r2'" in regression.message


def test_minimize_is_refused_because_scorers_are_maximised() -> None:
    error = refused(tuning("random", {"max_depth": [2]}, direction="minimize"))
    assert error.field == f"{FIELD}.direction"
    check(tuning("random", {"max_depth": [2]}, direction="maximize"))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (tuning("grid", {"a": [1, 2, 3], "b": [1, 2]}), 6),
        (tuning("random", {"a": [1, 2, 3]}, max_trials=4), 4),
        (tuning("bayesian", {"a": {"type": "int", "low": 1, "high": 9}}, max_trials=7), 7),
        # Successive halving keeps a third each round: 9 + 3 + 1.
        (tuning("halving", {"a": [1, 2, 3], "b": [1, 2, 3]}), 13),
        (
            tuning("halving", {"a": {"type": "int", "low": 1, "high": 9}}, max_trials=10),
            10 + 4 + 2 + 1,
        ),
        (tuning("halving", {"a": [1]}), 1),
    ],
)
def test_planned_trials(spec: dict[str, Any], expected: int) -> None:
    assert planned_trials(spec) == expected


def test_a_grid_over_max_fits_is_refused_on_the_search_space() -> None:
    spec = tuning("grid", {"max_depth": [1, 2, 3, 4], "criterion": ["gini", "entropy"]})
    check(spec, max_fits=24)  # 8 candidates x 3 folds
    error = refused(spec, max_fits=23)
    assert error.field == f"{FIELD}.search_space"
    assert "8 candidates x 3 folds = 24 fits, over the limit of 23" in error.message


@pytest.mark.parametrize("strategy", ["random", "bayesian", "halving"])
def test_other_strategies_over_max_fits_are_refused_on_max_trials(strategy: str) -> None:
    spec = tuning(strategy, {"max_depth": {"type": "int", "low": 1, "high": 9}}, max_trials=20)
    error = refused(spec, max_fits=20)
    assert error.field == f"{FIELD}.max_trials"
    assert "TRAINYARD_MAX_SEARCH_FITS" in error.message


def iris() -> pd.DataFrame:
    data = load_iris(as_frame=True)
    return data.frame


@pytest.mark.parametrize(
    ("strategy", "space", "trials"),
    [
        ("grid", {"max_depth": [1, 3]}, 2),
        ("random", {"max_depth": {"type": "int", "low": 1, "high": 4}}, 3),
        ("bayesian", {"max_depth": {"type": "int", "low": 1, "high": 4}}, 3),
        ("halving", {"max_depth": [1, 2, 3]}, 3 + 1),
    ],
)
def test_each_strategy_records_its_trials_and_refits_the_best(
    strategy: str, space: dict[str, Any], trials: int
) -> None:
    spec = TrainingSpec(
        algorithm="DecisionTreeClassifier",
        target_column="target",
        tuning=tuning(strategy, space, max_trials=3, parallel_trials=1, random_state=0),
    )
    recorded: list[dict[str, Any]] = []
    result = train(spec, iris(), on_trial=recorded.append)
    assert len(result.trials) == trials
    assert len(recorded) == trials
    assert result.best_hyperparameters is not None
    assert set(result.best_hyperparameters) == {"max_depth"}
    # The best of the last round (halving's last round runs on all the rows).
    resources = [t["resource"] for t in result.trials]
    last = max(r for r in resources if r is not None) if any(resources) else None
    best = max(
        (t for t in result.trials if t["resource"] == last and t["state"] == "complete"),
        key=lambda t: t["mean_score"],
    )
    assert result.best_hyperparameters == best["params"]
    assert result.metrics["cv_best_score"] == pytest.approx(best["mean_score"])
    fitted = result.pipeline.named_steps["model"]
    assert fitted.get_params()["max_depth"] == result.best_hyperparameters["max_depth"]


def _without_timings(report: dict[str, Any]) -> dict[str, Any]:
    importance = dict(report["feature_importance"] or {})
    importance.pop("seconds", None)
    return {**report, "feature_importance": importance}


@pytest.mark.parametrize("evaluate_early", [True, False])
def test_a_search_that_evaluated_its_final_model_early_gives_the_trainers_own_evaluation(
    evaluate_early: bool,
) -> None:
    """An executor's search (``train(search=...)``) may evaluate the final model itself while
    it waits for its last trials; the job then gets exactly what the trainer would have
    computed. An evaluation of another pipeline than the one returned is not used."""
    from sklearn.base import clone

    from app.trainer.tuning import SearchOutcome

    spec = TrainingSpec(
        algorithm="RandomForestClassifier",
        target_column="target",
        parameters={"n_estimators": 15},
        tuning=tuning("grid", {"max_depth": [2, 4]}, parallel_trials=1, random_state=0),
    )
    calls: list[Any] = []

    def search(
        pipeline: Any,
        spec: Any,
        task: str,
        X: Any,
        y: Any,
        progress: Any,
        on_trial: Any,
        *,
        evaluate: Any,
    ) -> SearchOutcome:
        final = clone(pipeline).set_params(model__max_depth=4).fit(X, y)
        evaluated = evaluate(final if evaluate_early else clone(final).fit(X, y))
        calls.append(evaluated)
        trial = {"number": 0, "params": {"max_depth": 4}, "mean_score": 0.9, "state": "complete"}
        return SearchOutcome(final, {"max_depth": 4}, 0.9, [trial], evaluated=evaluated)

    ours = train(spec, iris(), search=search)
    assert len(calls) == 1
    # The same final model evaluated by the trainer itself, as without the early evaluation.
    fresh = train(
        spec,
        iris(),
        search=lambda *a, evaluate: SearchOutcome(
            clone(a[0]).set_params(model__max_depth=4).fit(a[3], a[4]),
            {"max_depth": 4},
            0.9,
            [],
        ),
    )
    assert ours.metrics == fresh.metrics
    assert _without_timings(ours.evaluation) == _without_timings(fresh.evaluation)
    if evaluate_early:
        assert ours.metrics == {**calls[0].metrics, "cv_best_score": 0.9}
        assert ours.evaluation is calls[0].report
    else:
        assert ours.evaluation is not calls[0].report
