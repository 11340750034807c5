"""The metric values of ``app.trainer.scores`` (and the metrics and report built on them) are
scikit-learn's own, to 1e-12, for binary, multiclass, string labels and regression."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_diabetes, load_iris, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from app.trainer import scores
from app.trainer.evaluation import evaluate
from app.trainer.report import evaluation_report
from app.trainer.xgb import LabelledXGBClassifier

TOL = 1e-12


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=TOL, abs_tol=TOL)


def all_close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), TOL, TOL)


def sklearn_classification(model: Any, X: Any, y: Any) -> dict[str, float]:
    """The metrics as they were computed with scikit-learn's functions, one call each."""
    predicted = model.predict(X)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predicted, average="macro", zero_division=0
    )
    out = {
        "accuracy": skm.accuracy_score(y, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
    }
    classes = model.classes_
    probabilities = None
    if hasattr(model, "predict_proba"):
        try:
            probabilities = model.predict_proba(X)
        except (AttributeError, ValueError):
            probabilities = None
    if probabilities is not None:
        out["log_loss"] = skm.log_loss(y, probabilities, labels=classes)
    if len(np.unique(y)) > 1:
        if len(classes) == 2:
            if probabilities is not None:
                out["roc_auc"] = skm.roc_auc_score(y, probabilities[:, 1])
            else:
                out["roc_auc"] = skm.roc_auc_score(y, model.decision_function(X))
        elif probabilities is not None and len(np.unique(y)) == len(classes):
            out["roc_auc"] = skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=classes)
    return {k: float(v) for k, v in out.items()}


def strings(y: np.ndarray) -> np.ndarray:
    return np.array(["no", "maybe", "yes", "other"], dtype=object)[y]


def classification_cases() -> list[tuple[str, Any, Any, Any]]:
    X, y = make_classification(n_samples=300, n_features=6, n_informative=3, random_state=1)
    X3, y3 = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=2
    )
    iris_X, iris_y = load_iris(return_X_y=True)
    shuffled = np.random.default_rng(0).permutation(len(iris_y))
    iris_X, iris_y = iris_X[shuffled], iris_y[shuffled]
    return [
        ("binary ints", LogisticRegression(), X, y),
        ("binary strings", LogisticRegression(), X, strings(y)),
        ("multiclass strings", LogisticRegression(max_iter=500), X3, strings(y3)),
        ("tree with ties", DecisionTreeClassifier(max_depth=3, random_state=0), iris_X, iris_y),
        ("decision function", SVC(), X, strings(y)),
        ("float32 probabilities", LabelledXGBClassifier(n_estimators=5), X3, strings(y3)),
    ]


@pytest.mark.parametrize("case", classification_cases(), ids=lambda c: c[0])
def test_classification_metrics_are_scikit_learns(case: tuple[str, Any, Any, Any]) -> None:
    _, model, X, y = case
    cut = 2 * len(y) // 3
    model.fit(X[:cut], y[:cut])
    for part in (slice(cut, None), slice(None, cut), slice(cut, cut + 12)):
        expected = sklearn_classification(model, X[part], y[part])
        got = evaluate(model, "classification", {"validation": (X[part], y[part])})
        assert set(got) == {f"validation_{k}" for k in expected}
        for name, value in expected.items():
            assert close(got[f"validation_{name}"], value), (name, got, expected)


def test_labels_only_one_side_has_are_counted_as_scikit_learn_does() -> None:
    truth = np.array(["a", "b", "b", "c", "c", "c", "a"], dtype=object)
    guess = np.array(["a", "b", "d", "c", "b", "c", "d"], dtype=object)
    got = scores.label_metrics(truth, guess)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        truth, guess, average="macro", zero_division=0
    )
    assert close(got["accuracy"], skm.accuracy_score(truth, guess))
    assert close(got["balanced_accuracy"], skm.balanced_accuracy_score(truth, guess))
    assert close(got["precision_macro"], precision)
    assert close(got["recall_macro"], recall)
    assert close(got["f1_macro"], f1)


def test_mixed_label_types_are_left_to_scikit_learn() -> None:
    with pytest.raises(scores.Unusual):
        scores.label_codes(np.array([1, 2], dtype=object), np.array(["1", 2], dtype=object))


def test_curves_are_scikit_learns_with_ties() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(500) < 0.4
    score = np.round(rng.random(500), 1)  # many ties
    fpr, tpr, thresholds = skm.roc_curve(truth, score)
    got = scores.roc(truth, score)
    for mine, theirs in zip(got, (fpr, tpr, thresholds), strict=True):
        assert len(mine) == len(theirs)
        all_close(mine, theirs)
    assert close(scores.roc_auc(truth, score), skm.roc_auc_score(truth, score))
    assert close(scores.area(got[0], got[1]), skm.auc(fpr, tpr))
    precision, recall, pr_thresholds = skm.precision_recall_curve(truth, score)
    mine_p, mine_r, mine_t = scores.precision_recall(truth, score)
    all_close(mine_p, precision)
    all_close(mine_r, recall)
    all_close(mine_t, pr_thresholds)
    assert close(
        scores.average_precision(mine_p, mine_r), skm.average_precision_score(truth, score)
    )
    prob_true, prob_pred = calibration_curve(truth, score, n_bins=10)
    mine_true, mine_pred = scores.calibration(truth, score, 10)
    all_close(mine_true, prob_true)
    all_close(mine_pred, prob_pred)
    assert close(scores.brier(truth, score), skm.brier_score_loss(truth, score))


def test_log_loss_is_scikit_learns_in_float64_and_float32() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], size=200)
    proba = rng.dirichlet([1, 1, 1], size=200)
    proba[0] = [1.0, 0.0, 0.0]  # clipped at eps
    for dtype in (np.float64, np.float32):
        p = proba.astype(dtype)
        expected = skm.log_loss(y, p, labels=["a", "b", "c"])
        assert close(scores.log_loss(y, p, np.array(["a", "b", "c"])), expected)


def test_the_report_is_scikit_learns_on_the_same_predictions() -> None:
    frame = load_iris(as_frame=True).frame
    X = frame.drop(columns="target")
    y = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[::2], y[::2])
    report = evaluation_report(model, "classification", X, y, budget=None)["classification"]
    predicted = model.predict(X)
    labels = ["setosa", "versicolor", "virginica"]
    assert report["confusion_matrix"] == skm.confusion_matrix(y, predicted, labels=labels).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    for i, row in enumerate(report["per_class"]):
        assert close(row["precision"], precision[i])
        assert close(row["recall"], recall[i])
        assert close(row["f1"], f1[i])
        assert row["support"] == support[i]
    probabilities = model.predict_proba(X)
    for i, label in enumerate(labels):
        truth = (y == label).to_numpy()
        fpr, tpr, thresholds = skm.roc_curve(truth, probabilities[:, i])
        roc = report["roc"][i]
        all_close(roc["fpr"], fpr)
        all_close(roc["tpr"], tpr)
        all_close([math.inf if t is None else t for t in roc["thresholds"]], thresholds)
        assert close(roc["auc"], skm.auc(fpr, tpr))
        pr = report["precision_recall"][i]
        assert close(
            pr["average_precision"], skm.average_precision_score(truth, probabilities[:, i])
        )
        calibration = report["calibration"][i]
        prob_true, prob_pred = calibration_curve(truth, probabilities[:, i], n_bins=10)
        all_close(calibration["prob_true"], prob_true)
        all_close(calibration["prob_pred"], prob_pred)
        assert close(calibration["brier_score"], skm.brier_score_loss(truth, probabilities[:, i]))


def regression_cases() -> list[tuple[str, Any, Any, Any]]:
    X, y = make_regression(n_samples=200, n_features=4, noise=10.0, random_state=0)
    diabetes_X, diabetes_y = load_diabetes(return_X_y=True)
    with_zero = y.copy()
    with_zero[:5] = 0.0  # MAPE's epsilon
    return [
        ("linear", LinearRegression(), X, y),
        ("ridge", Ridge(), diabetes_X, diabetes_y),
        ("zeros in the target", LinearRegression(), X, with_zero),
    ]


@pytest.mark.parametrize("case", regression_cases(), ids=lambda c: c[0])
def test_regression_metrics_are_scikit_learns(case: tuple[str, Any, Any, Any]) -> None:
    _, model, X, y = case
    model.fit(X[:150], y[:150])
    X_val, y_val = X[150:], y[150:]
    predicted = model.predict(X_val)
    got = evaluate(model, "regression", {"validation": (X_val, y_val)})
    assert close(got["validation_rmse"], math.sqrt(skm.mean_squared_error(y_val, predicted)))
    assert close(got["validation_mae"], skm.mean_absolute_error(y_val, predicted))
    assert close(got["validation_r2"], skm.r2_score(y_val, predicted))
    assert close(got["validation_mape"], skm.mean_absolute_percentage_error(y_val, predicted))


def test_a_constant_target_scores_r2_as_scikit_learn_does() -> None:
    truth = pd.Series([3.0] * 10)
    assert scores.regression_metrics(truth, truth)["r2"] == skm.r2_score(truth, truth) == 1.0
    off = truth + 1
    assert scores.regression_metrics(truth, off)["r2"] == skm.r2_score(truth, off) == 0.0


class Refused:
    """Stands in for scikit-learn's metrics module: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"sklearn.metrics.{name} was called")


@pytest.mark.parametrize(
    "case",
    [c for c in classification_cases() if c[0] != "decision function"] + regression_cases(),
    ids=lambda c: c[0],
)
def test_common_splits_need_no_call_of_scikit_learns_metrics(
    case: tuple[str, Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values above come from this module's own arithmetic, not from the fallback."""
    from app.trainer import evaluation

    _, model, X, y = case
    task = "regression" if isinstance(model, LinearRegression | Ridge) else "classification"
    model.fit(X, y)
    monkeypatch.setattr(evaluation, "skm", Refused())
    metrics = evaluate(model, task, {"validation": (X, y)})
    assert ("validation_roc_auc" in metrics) == (task == "classification")


def test_a_score_that_is_not_finite_is_refused_as_scikit_learn_refuses_it() -> None:
    truth = np.array([True, False, True])
    score = np.array([0.2, np.nan, 0.9])
    with pytest.raises(ValueError, match="NaN"):
        skm.roc_curve(truth, score)
    with pytest.raises(ValueError, match="NaN"):
        scores.roc(truth, score)
