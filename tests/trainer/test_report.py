"""The evaluation report (``app.trainer.report``), checked against scikit-learn's own functions
on the same validation split and the same predictions."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from app.trainer import TrainingSpec, train
from app.trainer.core import split
from app.trainer.importance import ImportanceBudget
from app.trainer.report import (
    MAX_CURVE_CLASSES,
    MAX_CURVE_POINTS,
    evaluation_report,
    thin_indices,
)


def trained(
    frame: pd.DataFrame, algorithm: str, **spec: Any
) -> tuple[Any, dict[str, Any], pd.DataFrame, pd.Series]:
    """Train through the trainer, and rebuild the same seeded validation split. The importance
    gets a budget no loaded machine runs out of: these tests are about the report's content."""
    spec.setdefault("importance", ImportanceBudget(seconds=300))
    training = TrainingSpec(algorithm=algorithm, target_column="target", **spec)
    result = train(training, frame)
    X, y = frame.drop(columns="target"), frame["target"]
    _, X_val, _, y_val, _ = split(X, y, training, result.task)
    assert result.evaluation is not None
    json.dumps(result.evaluation, allow_nan=False)  # strict JSON: no NaN, no Infinity
    return result.pipeline, result.evaluation, X_val, y_val


def noisy_binary(rows: int = 3000) -> pd.DataFrame:
    X, y = make_classification(
        n_samples=rows, n_features=6, n_informative=3, flip_y=0.3, random_state=0
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["target"] = np.where(y == 1, "yes", "no")
    return frame


def same_curve(points: list[float | None], original: np.ndarray) -> None:
    """Thinned points are points of the original curve, in order, first and last kept."""
    keep = thin_indices(len(original))
    expected = [None if not np.isfinite(v) else float(v) for v in original[keep]]
    assert points == pytest.approx(expected)
    assert len(points) <= MAX_CURVE_POINTS


def test_thinning_keeps_first_last_and_at_most_the_cap() -> None:
    assert thin_indices(5).tolist() == [0, 1, 2, 3, 4]
    many = thin_indices(10_000)
    assert len(many) == MAX_CURVE_POINTS
    assert (many[0], many[-1]) == (0, 9_999)
    assert np.all(np.diff(many) > 0)


def test_binary_curves_are_scikit_learns_on_the_same_predictions() -> None:
    pipeline, report, X_val, y_val = trained(noisy_binary(), "LogisticRegression")
    c = report["classification"]
    assert c["labels"] == ["no", "yes"]
    assert c["score_source"] == "predict_proba"
    score = pipeline.predict_proba(X_val)[:, 1]
    fpr, tpr, thresholds = skm.roc_curve(y_val, score, pos_label="yes")
    (roc,) = c["roc"]
    assert roc["label"] == "yes"
    assert roc["points"] == len(fpr) > MAX_CURVE_POINTS  # thinning is exercised
    same_curve(roc["fpr"], fpr)
    same_curve(roc["tpr"], tpr)
    same_curve(roc["thresholds"], thresholds)
    assert roc["thresholds"][0] is None  # scikit-learn's +inf
    assert roc["auc"] == pytest.approx(skm.roc_auc_score(y_val == "yes", score))

    precision, recall, pr_thresholds = skm.precision_recall_curve(y_val, score, pos_label="yes")
    (pr,) = c["precision_recall"]
    same_curve(pr["precision"], precision)
    same_curve(pr["recall"], recall)
    same_curve(pr["thresholds"], np.append(pr_thresholds, np.nan))
    assert pr["average_precision"] == pytest.approx(
        skm.average_precision_score(y_val, score, pos_label="yes")
    )
    prob_true, prob_pred = calibration_curve(y_val == "yes", score, n_bins=10)
    (calibration,) = c["calibration"]
    assert calibration["prob_true"] == pytest.approx(prob_true.tolist())
    assert calibration["prob_pred"] == pytest.approx(prob_pred.tolist())


def test_confusion_matrix_and_per_class_metrics_are_scikit_learns() -> None:
    pipeline, report, X_val, y_val = trained(noisy_binary(600), "RandomForestClassifier")
    c = report["classification"]
    predicted = pipeline.predict(X_val)
    assert report["rows"] == len(X_val) == 120
    assert sum(map(sum, c["confusion_matrix"])) == report["rows"]
    expected = skm.confusion_matrix(y_val, predicted, labels=["no", "yes"])
    assert c["confusion_matrix"] == expected.tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_val, predicted, labels=["no", "yes"], zero_division=0
    )
    for i, row in enumerate(c["per_class"]):
        assert row["precision"] == pytest.approx(precision[i])
        assert row["recall"] == pytest.approx(recall[i])
        assert row["f1"] == pytest.approx(f1[i])
        assert row["support"] == support[i]


def test_multiclass_curves_are_one_vs_rest_per_class() -> None:
    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    pipeline, report, X_val, y_val = trained(frame, "LogisticRegression")
    c = report["classification"]
    assert c["labels"] == ["setosa", "versicolor", "virginica"]
    assert [entry["label"] for entry in c["roc"]] == c["labels"]
    probabilities = pipeline.predict_proba(X_val)
    for i, label in enumerate(c["labels"]):
        fpr, tpr, _ = skm.roc_curve(y_val == label, probabilities[:, i])
        assert c["roc"][i]["fpr"] == pytest.approx(fpr.tolist())
        assert c["roc"][i]["tpr"] == pytest.approx(tpr.tolist())
        precision, recall, _ = skm.precision_recall_curve(y_val == label, probabilities[:, i])
        assert c["precision_recall"][i]["precision"] == pytest.approx(precision.tolist())
        assert c["precision_recall"][i]["recall"] == pytest.approx(recall.tolist())
    assert len(c["calibration"]) == 3


def test_a_model_without_probabilities_draws_from_its_decision_function() -> None:
    pipeline, report, X_val, y_val = trained(noisy_binary(600), "LinearSVC")
    c = report["classification"]
    assert c["score_source"] == "decision_function"
    margin = pipeline.decision_function(X_val)
    fpr, tpr, _ = skm.roc_curve(y_val, margin, pos_label="yes")
    assert c["roc"][0]["fpr"] == pytest.approx(fpr.tolist())
    assert c["roc"][0]["tpr"] == pytest.approx(tpr.tolist())
    assert c["calibration"] == []
    assert any("calibration" in note for note in c["notes"])


def test_a_validation_class_the_model_never_saw_still_counts_every_row() -> None:
    X = pd.DataFrame({"x": np.arange(40.0)})
    y = pd.Series(["a", "b"] * 20)
    model = LogisticRegression().fit(X, y)
    X_val = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    y_val = pd.Series(["a", "b", "c", "c"])
    report = evaluation_report(model, "classification", X_val, y_val)
    c = report["classification"]
    assert c["labels"] == ["a", "b", "c"]
    assert sum(map(sum, c["confusion_matrix"])) == 4
    assert sum(c["confusion_matrix"][2]) == 2  # both "c" rows, predicted as "a" or "b"
    assert c["confusion_matrix"][2][2] == 0
    assert [row["support"] for row in c["per_class"]] == [1, 1, 2]


def test_regression_sample_residuals_and_quantiles() -> None:
    frame = load_diabetes(as_frame=True).frame
    pipeline, report, X_val, y_val = trained(frame, "Ridge")
    assert report["classification"] is None
    r = report["regression"]
    residuals = y_val.to_numpy() - pipeline.predict(X_val)
    assert r["residuals"]["definition"] == "actual - predicted"
    assert sum(r["residuals"]["histogram"]["counts"]) == len(X_val)
    edges = r["residuals"]["histogram"]["bin_edges"]
    assert edges[0] == pytest.approx(residuals.min())
    assert edges[-1] == pytest.approx(residuals.max())
    for q, value in r["residuals"]["quantiles"].items():
        assert value == pytest.approx(np.quantile(residuals, float(q)))
    assert set(r["residuals"]["quantiles"]) == {
        "0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"
    }  # fmt: skip
    sample = r["sample"]  # under 500 rows: every row, in the split's order
    assert sample["actual"] == pytest.approx(y_val.tolist())
    assert sample["predicted"] == pytest.approx(pipeline.predict(X_val).tolist())


def test_the_regression_sample_is_capped_and_seeded() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=3000)})
    y = pd.Series(X["x"] * 2 + rng.normal(size=3000))
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(X, y)
    first = evaluation_report(model, "regression", X, y, seed=3)["regression"]["sample"]
    again = evaluation_report(model, "regression", X, y, seed=3)["regression"]["sample"]
    other = evaluation_report(model, "regression", X, y, seed=4)["regression"]["sample"]
    assert len(first["actual"]) == 500
    assert first == again
    assert first["actual"] != other["actual"]


def test_importance_names_the_original_columns_through_the_whole_pipeline() -> None:
    rng = np.random.default_rng(0)
    rows = 3000
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro"], size=rows),
            "noise": rng.normal(size=rows),
            "spend": rng.normal(size=rows),
        }
    )
    frame["target"] = np.where((frame["plan"] == "pro") | (frame["spend"] > 1), "churn", "stay")
    _, report, _, _ = trained(frame, "RandomForestClassifier", parameters={"n_estimators": 30})
    importance = report["feature_importance"]
    # The one-hot columns of "plan" are scored once, under the column's own name.
    assert [f["feature"] for f in importance["features"]][:2] in (
        ["plan", "spend"],
        ["spend", "plan"],
    )
    assert importance["features"][-1]["feature"] == "noise"
    assert importance["rows"] == 600  # the whole validation split, under the cap
    assert (importance["method"], importance["scoring"], importance["seed"]) == (
        "permutation",
        "accuracy",
        0,
    )
    means = [f["importance_mean"] for f in importance["features"]]
    assert means == sorted(means, reverse=True)


def test_importance_is_bounded_in_rows_and_skipped_with_a_reason_over_its_budget() -> None:
    frame = noisy_binary(3000)
    model = LogisticRegression().fit(frame.drop(columns="target"), frame["target"])
    X, y = frame.drop(columns="target"), frame["target"]
    bounded = evaluation_report(
        model, "classification", X, y, budget=ImportanceBudget(seconds=30, max_rows=700)
    )
    assert bounded["feature_importance"]["rows"] == 700
    assert bounded["skipped_reason"] is None

    tight = evaluation_report(model, "classification", X, y, budget=ImportanceBudget(seconds=1e-9))
    assert tight["feature_importance"] is None
    assert "over the budget" in tight["skipped_reason"]
    off = evaluation_report(model, "classification", X, y, budget=ImportanceBudget(seconds=0))
    assert "turned off" in off["skipped_reason"]
    assert off["classification"] is not None  # the rest of the report is there


@pytest.mark.parametrize(
    "algorithm",
    [
        "XGBClassifier",
        "LGBMClassifier",
        "CatBoostClassifier",
        "HistGradientBoostingClassifier",
        "GaussianNB",
        "RidgeClassifier",
    ],
)
def test_every_kind_of_classifier_reports_with_string_labels(algorithm: str) -> None:
    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame["colour"] = np.where(frame.index % 3 == 0, "red", "blue")
    params = {"iterations": 30} if algorithm.startswith("CatBoost") else {}
    pipeline, report, X_val, y_val = trained(frame, algorithm, parameters=params)
    c = report["classification"]
    assert c["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, c["confusion_matrix"])) == len(X_val)
    expected = skm.confusion_matrix(y_val, pipeline.predict(X_val), labels=c["labels"])
    assert c["confusion_matrix"] == expected.tolist()
    assert len(c["roc"]) == 3
    assert report["skipped_reason"] is None
    assert {f["feature"] for f in report["feature_importance"]["features"]} == set(X_val.columns)


@pytest.mark.parametrize(
    "algorithm", ["XGBRegressor", "LGBMRegressor", "CatBoostRegressor", "PLSRegression"]
)
def test_every_kind_of_regressor_reports(algorithm: str) -> None:
    frame = load_diabetes(as_frame=True).frame
    params = {"iterations": 30} if algorithm.startswith("CatBoost") else {}
    _, report, X_val, _ = trained(frame, algorithm, parameters=params)
    assert sum(report["regression"]["residuals"]["histogram"]["counts"]) == len(X_val)
    assert report["skipped_reason"] is None
    assert len(report["feature_importance"]["features"]) == X_val.shape[1]


def test_many_classes_draw_the_curves_of_the_most_frequent_ones() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series([f"c{i}" for i in rng.integers(0, 60, size=3000)])
    y[:400] = "c59"  # the most frequent class, and the last in order
    X = pd.DataFrame({"x": rng.normal(size=3000), "code": y.str[1:].astype(float)})
    model = DecisionTreeClassifier(max_depth=8, random_state=0).fit(X, y)
    report = evaluation_report(model, "classification", X, y, budget=ImportanceBudget(0))
    c = report["classification"]
    assert len(c["labels"]) == 60
    assert sum(map(sum, c["confusion_matrix"])) == 3000
    assert len(c["roc"]) == len(c["precision_recall"]) == MAX_CURVE_CLASSES
    assert "c59" in {entry["label"] for entry in c["roc"]}
    assert any("50 classes with the most validation rows" in note for note in c["notes"])


def test_repeats_are_seeded_and_a_repeat_the_clock_interrupts_is_dropped() -> None:
    import math
    import time

    from app.trainer.importance import _copies, _repeats

    frame = noisy_binary(400)
    X, y = frame.drop(columns="target"), frame["target"]
    model = LogisticRegression().fit(X, y)
    copies, baseline, _ = _copies(model, X, None)  # a bare estimator: raw copies
    given = {"baseline": baseline, "columns": X.shape[1]}
    first = _repeats(copies, y, "accuracy", 3, 7, math.inf, **given)
    again = _repeats(copies, y, "accuracy", 3, 7, math.inf, **given)
    assert len(first) == 3
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], first[1])  # each repeat has its own seed
    assert _repeats(copies, y, "accuracy", 3, 7, time.perf_counter(), **given) == []
