"""XGBoost, LightGBM and CatBoost in the trainer: parameters, fit, early stopping, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from app.trainer import SpecError, TrainingSpec, train
from app.trainer.algorithms import build_estimator, get_algorithm, registry
from app.trainer.artifacts import TRUSTED_BOOSTING_TYPES, load_model, trusted_types
from app.trainer.artifacts import write_artifacts as write
from app.trainer.catalog import catalog
from app.trainer.core import make_estimator, split

BOOSTING = [
    "XGBClassifier",
    "XGBRegressor",
    "LGBMClassifier",
    "LGBMRegressor",
    "CatBoostClassifier",
    "CatBoostRegressor",
]
FEATURES = ["colour", "size", "city", "weight"]


def mixed_csv(path: Path, rows: int = 1500) -> Path:
    """A CSV with text categories (one of 25 values), missing values and a noisy target."""
    rng = np.random.default_rng(7)
    colour = rng.choice(["red", "green", "blue", "grey"], rows).astype(object)
    colour[::17] = None
    city = rng.choice([f"city-{i}" for i in range(25)], rows).astype(object)
    city[::23] = None
    size = rng.normal(10, 3, rows)
    size[::13] = np.nan
    weight = rng.gamma(2.0, 2.0, rows)
    effect = np.isin(city, ["city-1", "city-2", "city-3", "city-4"]) * 4.0
    price = (
        np.nan_to_num(size, nan=10.0) * 2 + (colour == "red") * 6 + effect + weight
    ) + rng.normal(0, 1.5, rows)
    label = np.where(price > np.median(price), "dear", "cheap")
    frame = pd.DataFrame(
        {"colour": colour, "size": size, "city": city, "weight": weight}
        | {"price": price, "label": label}
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return pd.read_csv(mixed_csv(tmp_path_factory.mktemp("data") / "mixed.csv"))


def spec_for(algorithm: str, **overrides: Any) -> TrainingSpec:
    target = "label" if "Classifier" in algorithm else "price"
    values: dict[str, Any] = {"feature_columns": FEATURES, "n_jobs": 1}
    return TrainingSpec(algorithm=algorithm, target_column=target, **{**values, **overrides})


def score(algorithm: str, metrics: dict[str, float]) -> float:
    return metrics["validation_accuracy" if "Classifier" in algorithm else "validation_r2"]


def test_all_six_are_in_the_catalog_with_their_libraries_parameters() -> None:
    entries = {entry["name"]: entry for entry in catalog()}
    frameworks = {name: entries[name]["framework"] for name in BOOSTING}
    assert frameworks == {
        "XGBClassifier": "xgboost",
        "XGBRegressor": "xgboost",
        "LGBMClassifier": "lightgbm",
        "LGBMRegressor": "lightgbm",
        "CatBoostClassifier": "catboost",
        "CatBoostRegressor": "catboost",
    }
    lgbm = {p["name"]: p for p in entries["LGBMClassifier"]["parameters"]}
    assert lgbm["num_leaves"]["default"] == 31
    assert lgbm["num_leaves"]["types"] == ["integer"]
    assert lgbm["learning_rate"]["types"] == ["number"]
    xgb = {p["name"]: p for p in entries["XGBRegressor"]["parameters"]}
    assert xgb["max_depth"]["types"] == ["integer", "null"]
    assert "callbacks" not in xgb  # a Python object: no JSON request can carry it
    cat = {p["name"]: p for p in entries["CatBoostClassifier"]["parameters"]}
    assert cat["depth"]["default"] == 6  # what CatBoost itself resolves
    assert "n_jobs" in cat
    assert "thread_count" not in cat
    assert entries["CatBoostRegressor"]["task"] == "regression"


@pytest.mark.parametrize(
    ("algorithm", "parameters", "field"),
    [
        ("XGBClassifier", {"max_depth": "deep"}, "max_depth"),
        ("XGBClassifier", {"max_detph": 3}, "max_detph"),
        ("XGBRegressor", {"tree_method": "bogus"}, "tree_method"),
        ("LGBMRegressor", {"num_leaves": 1}, "num_leaves"),
        ("LGBMClassifier", {"learning_rate": "fast"}, "learning_rate"),
        ("CatBoostClassifier", {"depth": 4.5}, "depth"),
        ("CatBoostRegressor", {"loss_function": "Nope", "depth": 4}, "loss_function"),
    ],
)
def test_unknown_ill_typed_and_rejected_parameters_name_the_parameter(
    algorithm: str, parameters: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        build_estimator(get_algorithm(algorithm), parameters)
    assert caught.value.field == f"algorithm_config.parameters.{field}"


def test_valid_library_spellings_are_accepted() -> None:
    model = build_estimator(get_algorithm("XGBClassifier"), {"objective": "multi:softprob"})
    assert model.get_params()["objective"] == "multi:softprob"
    build_estimator(get_algorithm("CatBoostClassifier"), {"loss_function": "MultiClass"})


def test_threads_follow_the_spec() -> None:
    assert make_estimator(spec_for("XGBRegressor", n_jobs=2)).get_params()["n_jobs"] == 2
    assert make_estimator(spec_for("LGBMRegressor", n_jobs=2)).get_params()["n_jobs"] == 2
    catboost = make_estimator(spec_for("CatBoostRegressor", n_jobs=2))
    assert catboost.get_params()["thread_count"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", BOOSTING)
def test_each_trains_on_mixed_csv_as_well_as_hist_gradient_boosting_and_reloads_safely(
    algorithm: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    baseline_name = "HistGradientBoosting" + (
        "Classifier" if "Classifier" in algorithm else "Regressor"
    )
    baseline = train(spec_for(baseline_name), frame)
    result = train(spec_for(algorithm), frame)
    assert score(algorithm, result.metrics) >= score(algorithm, baseline.metrics) - 0.03

    write(tmp_path, result.pipeline, metrics=result.metrics, spec={}, lineage={})
    needed = sio.get_untrusted_types(file=tmp_path / "model.skops")
    library_types = [t for t in needed if t.split(".")[0] in ("xgboost", "lightgbm", "catboost")]
    assert library_types
    assert set(library_types) <= TRUSTED_BOOSTING_TYPES
    assert trusted_types(tmp_path / "model.skops") == needed
    loaded = load_model(tmp_path / "model.skops")
    rows = frame[FEATURES].head(200)
    assert np.array_equal(loaded.predict(rows), result.pipeline.predict(rows))
    if "Classifier" in algorithm:
        assert set(loaded.predict(rows)) <= {"cheap", "dear"}
        assert np.allclose(loaded.predict_proba(rows), result.pipeline.predict_proba(rows))


@pytest.mark.parametrize("algorithm", ["XGBClassifier", "LGBMClassifier", "CatBoostClassifier"])
def test_native_categorical_handling_keeps_one_column_per_category_column(
    algorithm: str, frame: pd.DataFrame
) -> None:
    result = train(spec_for(algorithm, parameters={"n_estimators": 20}), frame)
    preprocess = result.pipeline.named_steps["preprocess"]
    assert preprocess.output_indices_["native_categorical"] == slice(2, 4)  # colour, city
    assert len(preprocess.get_feature_names_out()) == len(FEATURES)
    model = result.pipeline.named_steps["model"]
    if algorithm == "CatBoostClassifier":
        assert model.get_cat_feature_indices() == [2, 3]
    elif algorithm == "LGBMClassifier":
        assert "[categorical_feature: 2,3]" in model.booster_.model_to_string()
    else:
        assert model.get_params()["feature_types"] == ["q", "q", "c", "c"]


@pytest.mark.parametrize(
    ("algorithm", "cap"),
    [
        ("XGBRegressor", "n_estimators"),
        ("LGBMRegressor", "n_estimators"),
        ("CatBoostRegressor", "iterations"),
    ],
)
def test_early_stopping_stops_before_the_cap_and_never_sees_the_holdout(
    algorithm: str, cap: str, frame: pd.DataFrame
) -> None:
    data = frame.copy()
    spec = spec_for(
        algorithm, parameters={cap: 2000, "learning_rate": 0.5, "early_stopping_rounds": 10}
    )
    y = data[spec.target_column]
    # Mark the holdout rows with categories no other row has: a fit that saw a holdout row
    # would know one of them.
    _, X_val, _, _, _ = split(data[FEATURES], y, spec, "regression")
    data.loc[X_val.index, "colour"] = [f"holdout-{i}" for i in range(len(X_val))]
    result = train(spec, data)

    assert result.metrics["best_iteration"] < 2000
    assert result.rows["early_stopping_rows"] == round(0.1 * result.rows["train_rows"])
    preprocess = result.pipeline.named_steps["preprocess"]
    native = preprocess.named_transformers_["native_categorical"]
    fitted = native["encode"].categories_[0] if "encode" in native.named_steps else []
    assert not any(str(c).startswith("holdout-") for c in fitted)
    assert any("early stopping watched" in note for note in result.notes)


def test_early_stopping_in_a_search_uses_the_inner_split_of_each_fold(frame: pd.DataFrame) -> None:
    tuning = {
        "strategy": "grid",
        "search_space": {"max_depth": [2, 4]},
        "max_trials": 2,
        "cv_folds": 2,
        "parallel_trials": 1,
    }
    spec = spec_for(
        "XGBClassifier",
        parameters={"n_estimators": 500, "early_stopping_rounds": 5},
        tuning=tuning,
    )
    result = train(spec, frame)
    assert [t["state"] for t in result.trials] == ["complete", "complete"]
    assert result.metrics["best_iteration"] < 500


@pytest.mark.slow
def test_bayesian_search_over_lightgbm_completes_and_refits(frame: pd.DataFrame) -> None:
    tuning = {
        "strategy": "bayesian",
        "search_space": {
            "num_leaves": {"type": "int", "low": 4, "high": 31},
            "learning_rate": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
            "n_estimators": [30, 60],
        },
        "max_trials": 5,
        "cv_folds": 3,
        "parallel_trials": 1,
        "early_stopping": True,
    }
    seen: list[float] = []
    result = train(spec_for("LGBMClassifier", tuning=tuning), frame, lambda s, f, m: seen.append(f))
    assert len(result.trials) == 5
    assert set(result.best_hyperparameters or {}) == {"num_leaves", "learning_rate", "n_estimators"}
    model = result.pipeline.named_steps["model"]
    assert model.get_params()["num_leaves"] == result.best_hyperparameters["num_leaves"]  # type: ignore[index]
    assert result.metrics["validation_accuracy"] > 0.8
    assert len(set(seen)) > 5  # folds, not only trials


@pytest.mark.slow
def test_grid_search_over_xgboost_completes_and_refits(frame: pd.DataFrame) -> None:
    tuning = {
        "strategy": "grid",
        "search_space": {"max_depth": [2, 4], "learning_rate": [0.1, 0.3]},
        "max_trials": 4,
        "cv_folds": 2,
        "parallel_trials": 2,
    }
    result = train(spec_for("XGBRegressor", parameters={"n_estimators": 50}, tuning=tuning), frame)
    assert len(result.trials) == 4
    assert all(t["state"] == "complete" for t in result.trials)
    best = result.best_hyperparameters or {}
    assert result.pipeline.named_steps["model"].get_params()["max_depth"] == best["max_depth"]
    assert result.metrics["validation_r2"] > 0.7


def test_registry_lists_the_boosting_estimators() -> None:
    assert set(BOOSTING) <= set(registry())
