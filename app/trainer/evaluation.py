"""Metrics on the validation and training splits."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

from app.trainer.algorithms import CLASSIFICATION


def _classification(model: Any, X: Any, y: Any) -> dict[str, float]:
    predicted = model.predict(X)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predicted, average="macro", zero_division=0
    )
    scores = {
        "accuracy": skm.accuracy_score(y, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
    }
    classes = getattr(model, "classes_", None)
    probabilities = None
    if hasattr(model, "predict_proba"):
        try:
            probabilities = model.predict_proba(X)
        except (AttributeError, ValueError):  # e.g. SVC without probability=True
            probabilities = None
    if probabilities is not None and classes is not None:
        try:
            scores["log_loss"] = skm.log_loss(y, probabilities, labels=classes)
        except ValueError:
            pass
    # ROC AUC is undefined when the split holds a single class; leave it out then.
    if classes is not None and len(np.unique(y)) > 1:
        try:
            if len(classes) == 2:
                if probabilities is not None:
                    margin = probabilities[:, 1]
                else:
                    margin = model.decision_function(X)
                scores["roc_auc"] = skm.roc_auc_score(y, margin)
            elif probabilities is not None and len(np.unique(y)) == len(classes):
                scores["roc_auc"] = skm.roc_auc_score(
                    y, probabilities, multi_class="ovr", labels=classes
                )
        except (AttributeError, ValueError):
            pass
    return scores


def _regression(model: Any, X: Any, y: Any) -> dict[str, float]:
    predicted = model.predict(X)
    return {
        "rmse": math.sqrt(skm.mean_squared_error(y, predicted)),
        "mae": skm.mean_absolute_error(y, predicted),
        "r2": skm.r2_score(y, predicted),
        "mape": skm.mean_absolute_percentage_error(y, predicted),
    }


def evaluate(model: Any, task: str, splits: dict[str, tuple[Any, Any]]) -> dict[str, float]:
    """Metrics named ``<split>_<metric>`` (``validation_accuracy``, ``train_rmse``, ...)."""
    compute = _classification if task == CLASSIFICATION else _regression
    result: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for split, (X, y) in splits.items():
            for name, value in compute(model, X, y).items():
                if value is not None and math.isfinite(float(value)):
                    result[f"{split}_{name}"] = float(value)
    return result
