"""Progress measured inside a fit: chunked forests, stages, rounds, and the ETA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

from app.trainer import TrainingSpec, train
from app.trainer.fitting import fit_pipeline
from app.trainer.progress import EtaMeter

Report = list[tuple[str, float, str | None]]


def classification_frame(rows: int = 600) -> pd.DataFrame:
    X, y = make_classification(rows, 6, n_informative=4, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["y"] = y
    return frame


def recorder() -> tuple[Report, object]:
    seen: Report = []

    def progress(stage: str, fraction: float, message: str | None) -> None:
        seen.append((stage, fraction, message))

    return seen, progress


def training(seen: Report) -> list[float]:
    return [fraction for stage, fraction, _ in seen if stage == "training"]


@pytest.mark.parametrize("algorithm", ["RandomForestClassifier", "ExtraTreesClassifier"])
def test_a_forest_grown_in_chunks_equals_one_grown_at_once(algorithm: str) -> None:
    frame = classification_frame()
    seen, progress = recorder()
    spec = TrainingSpec(
        algorithm=algorithm, target_column="y", parameters={"n_estimators": 60}, random_state=5
    )
    result = train(spec, frame, progress)  # type: ignore[arg-type]

    fractions = training(seen)
    assert len(set(fractions)) >= 10
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    model = result.pipeline.named_steps["model"]
    assert model.get_params()["warm_start"] is False
    assert model.get_params()["n_estimators"] == len(model.estimators_) == 60

    once = clone(result.pipeline)
    once.fit(frame.drop(columns="y").loc[_train_index(result, frame)], _train_y(result, frame))
    X = frame.drop(columns="y")
    assert np.array_equal(once.predict_proba(X), result.pipeline.predict_proba(X))


def _train_index(result: object, frame: pd.DataFrame) -> pd.Index:
    from app.trainer.core import split

    spec = TrainingSpec(algorithm="RandomForestClassifier", target_column="y", random_state=5)
    X_train, _, _, _, _ = split(frame.drop(columns="y"), frame["y"], spec, "classification")
    return X_train.index


def _train_y(result: object, frame: pd.DataFrame) -> pd.Series:
    return frame.loc[_train_index(result, frame), "y"]


def test_a_forest_regressor_chunked_equals_a_single_fit() -> None:
    X, y = make_regression(400, 5, noise=5.0, random_state=1)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    spec = TrainingSpec(
        algorithm="RandomForestRegressor",
        target_column="y",
        parameters={"n_estimators": 45, "max_features": 0.6},
        random_state=11,
    )
    chunked = train(spec, frame.assign(y=y)).pipeline
    single = clone(chunked)
    fit_frame = frame.assign(y=y)
    from app.trainer.core import split

    X_train, _, y_train, _, _ = split(fit_frame[frame.columns], fit_frame["y"], spec, "regression")
    single.fit(X_train, y_train)
    assert np.array_equal(single.predict(frame), chunked.predict(frame))


@pytest.mark.parametrize(
    ("algorithm", "parameters"),
    [
        ("GradientBoostingClassifier", {"n_estimators": 40}),
        ("XGBClassifier", {"n_estimators": 40}),
        ("LGBMClassifier", {"n_estimators": 40}),
        ("CatBoostClassifier", {"iterations": 40}),
    ],
)
def test_boosting_reports_rounds_inside_the_fit(algorithm: str, parameters: dict[str, int]) -> None:
    seen, progress = recorder()
    spec = TrainingSpec(algorithm=algorithm, target_column="y", parameters=parameters, n_jobs=1)
    train(spec, classification_frame(), progress)  # type: ignore[arg-type]
    fractions = training(seen)
    assert len(set(fractions)) >= 10
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any(m and "of 40" in m for _, _, m in seen)


@pytest.mark.parametrize(
    ("algorithm", "parameters"),
    [
        ("MLPClassifier", {"max_iter": 30, "hidden_layer_sizes": [8]}),
        ("SGDClassifier", {"max_iter": 30, "tol": None}),
    ],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_iterative_estimators_report_the_iterations_they_print(
    algorithm: str, parameters: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    seen, progress = recorder()
    spec = TrainingSpec(algorithm=algorithm, target_column="y", parameters=parameters)
    result = train(spec, classification_frame(), progress)  # type: ignore[arg-type]
    fractions = training(seen)
    assert len(set(fractions)) >= 10
    assert fractions == sorted(fractions)
    assert any(m == "iteration 30 of at most 30" for _, _, m in seen)
    assert result.pipeline.named_steps["model"].get_params()["verbose"] in (0, False)
    assert "Epoch" not in capsys.readouterr().out  # read, not shown


def test_an_estimator_that_cannot_report_says_so() -> None:
    seen, progress = recorder()
    spec = TrainingSpec(algorithm="LogisticRegression", target_column="y")
    train(spec, classification_frame(), progress)  # type: ignore[arg-type]
    messages = [m for stage, _, m in seen if stage == "training" and m]
    assert any("cannot report progress inside its fit" in m for m in messages)


def test_fit_pipeline_leaves_no_callback_on_the_model() -> None:
    from sklearn.pipeline import Pipeline

    from app.trainer.algorithms import build_estimator, get_algorithm

    frame = classification_frame(200)
    model = build_estimator(get_algorithm("XGBClassifier"), {"n_estimators": 5, "n_jobs": 1})
    pipeline = Pipeline([("model", model)])
    fit_pipeline(pipeline, frame.drop(columns="y"), frame["y"], task="classification", seed=0)
    assert model.get_params()["callbacks"] is None


def test_eta_falls_with_a_steady_rate_and_is_zero_at_the_end() -> None:
    meter = EtaMeter()
    assert meter.update("training", 0.0, now=100.0) is None
    estimates = [meter.update("training", k / 10, now=100.0 + k) for k in range(1, 10)]
    assert estimates == sorted(estimates, reverse=True)
    assert estimates[0] == pytest.approx(9.0)
    assert estimates[-1] == pytest.approx(1.0)
    assert meter.update("training", 1.0, now=110.0) == 0.0
    assert meter.update("evaluating", 0.0, now=111.0) is None  # a new stage, a new rate
