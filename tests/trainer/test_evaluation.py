"""Metrics on both splits (``app.trainer.evaluation``), checked against scikit-learn's own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

from app.trainer.evaluation import evaluate


def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    return X[:150], y[:150], X[150:], y[150:]


def test_binary_classification_metrics_on_both_splits() -> None:
    X_train, y_train, X_val, y_val = binary()
    model = LogisticRegression().fit(X_train, y_train)
    metrics = evaluate(
        model, "classification", {"validation": (X_val, y_val), "train": (X_train, y_train)}
    )
    names = {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "log_loss",
        "roc_auc",
    }
    assert set(metrics) == {f"{split}_{n}" for split in ("validation", "train") for n in names}
    predicted = model.predict(X_val)
    probabilities = model.predict_proba(X_val)
    assert metrics["validation_accuracy"] == pytest.approx(skm.accuracy_score(y_val, predicted))
    assert metrics["validation_f1_macro"] == pytest.approx(
        skm.f1_score(y_val, predicted, average="macro")
    )
    assert metrics["validation_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y_val, probabilities[:, 1])
    )
    assert metrics["validation_log_loss"] == pytest.approx(skm.log_loss(y_val, probabilities))
    assert metrics["train_accuracy"] == pytest.approx(
        skm.accuracy_score(y_train, model.predict(X_train))
    )
    assert metrics["train_accuracy"] != metrics["validation_accuracy"]


def test_binary_roc_auc_uses_the_decision_function_without_probabilities() -> None:
    X_train, y_train, X_val, y_val = binary()
    model = SVC().fit(X_train, y_train)
    metrics = evaluate(model, "classification", {"validation": (X_val, y_val)})
    assert "validation_log_loss" not in metrics
    assert metrics["validation_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y_val, model.decision_function(X_val))
    )


def test_multiclass_roc_auc_is_one_vs_rest() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    metrics = evaluate(model, "classification", {"validation": (X, y)})
    assert metrics["validation_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, model.predict_proba(X), multi_class="ovr")
    )
    assert 0 < metrics["validation_log_loss"] < 1


def test_a_split_with_one_class_has_no_roc_auc_but_keeps_the_rest() -> None:
    X_train, y_train, _, _ = binary()
    model = LogisticRegression().fit(X_train, y_train)
    only_ones = y_train == 1
    metrics = evaluate(
        model, "classification", {"validation": (X_train[only_ones], y_train[only_ones])}
    )
    assert "validation_roc_auc" not in metrics
    assert "validation_accuracy" in metrics
    assert "validation_log_loss" in metrics  # defined: the labels are passed


def test_a_multiclass_split_missing_a_class_has_no_roc_auc() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    two = y < 2
    metrics = evaluate(model, "classification", {"validation": (X[two], y[two])})
    assert "validation_roc_auc" not in metrics
    assert "validation_accuracy" in metrics


def test_regression_metrics_on_both_splits() -> None:
    X, y = make_regression(n_samples=120, n_features=4, noise=10.0, random_state=0)
    y = y + 500  # keep MAPE meaningful (no target near zero)
    model = LinearRegression().fit(X[:90], y[:90])
    metrics = evaluate(
        model, "regression", {"validation": (X[90:], y[90:]), "train": (X[:90], y[:90])}
    )
    assert set(metrics) == {
        f"{split}_{n}" for split in ("validation", "train") for n in ("rmse", "mae", "r2", "mape")
    }
    predicted = model.predict(X[90:])
    assert metrics["validation_rmse"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(y[90:], predicted))
    )
    assert metrics["validation_mae"] == pytest.approx(skm.mean_absolute_error(y[90:], predicted))
    assert metrics["validation_r2"] == pytest.approx(skm.r2_score(y[90:], predicted))
    assert metrics["validation_mape"] == pytest.approx(
        skm.mean_absolute_percentage_error(y[90:], predicted)
    )
    assert metrics["validation_rmse"] >= metrics["validation_mae"] > 0
