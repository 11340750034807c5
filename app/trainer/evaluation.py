"""Metrics on the validation and training splits."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

from app.trainer import scores
from app.trainer.algorithms import CLASSIFICATION
from app.trainer.predictions import Predictions, predict_split


def _label_metrics(y: Any, predicted: Any) -> dict[str, float]:
    try:
        return scores.label_metrics(y, predicted)
    except scores.Unusual:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y, predicted, average="macro", zero_division=0
        )
        return {
            "accuracy": skm.accuracy_score(y, predicted),
            "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
            "precision_macro": precision,
            "recall_macro": recall,
            "f1_macro": f1,
        }


def _log_loss(y: Any, probabilities: np.ndarray, classes: Any) -> float:
    try:
        return scores.log_loss(y, probabilities, classes)
    except scores.Unusual:
        return float(skm.log_loss(y, probabilities, labels=classes))


def _roc_auc(y: np.ndarray, score: np.ndarray, classes: Any) -> float | None:
    """``roc_auc_score``: binary on the positive class's score, else one-vs-rest over
    ``classes``; None where it is undefined (a split with one class)."""
    present = np.unique(y)
    if len(present) < 2:
        return None
    try:
        if len(classes) == 2:
            if score.ndim != 1 or len(present) != 2:
                raise scores.Unusual("scikit-learn decides (a 2-d or a multiclass split)")
            return scores.roc_auc(y == present[1], score)
        ordered = np.asarray(classes)
        if (
            len(present) != len(ordered)
            or not np.array_equal(np.unique(ordered), ordered)
            or len(np.setdiff1d(present, ordered))
            or not np.allclose(1, score.sum(axis=1))
        ):
            raise scores.Unusual("scikit-learn decides (it refuses these)")
        return float(np.mean([scores.roc_auc(y == c, score[:, i]) for i, c in enumerate(ordered)]))
    except (scores.Unusual, TypeError):
        if len(classes) == 2:
            return float(skm.roc_auc_score(y, score))
        return float(skm.roc_auc_score(y, score, multi_class="ovr", labels=classes))


def _classification(
    model: Any, y: Any, predictions: Predictions, classes: Any = None
) -> dict[str, float]:
    result: dict[str, float] = dict(_label_metrics(y, predictions.predicted))
    classes = getattr(model, "classes_", None) if classes is None else classes
    probabilities = predictions.probabilities
    if probabilities is not None and classes is not None:
        try:
            result["log_loss"] = _log_loss(y, probabilities, classes)
        except ValueError:
            pass
    # ROC AUC is undefined when the split holds a single class; leave it out then.
    truth = np.asarray(y)
    if classes is not None and len(np.unique(truth)) > 1:
        score: np.ndarray | None = None
        if len(classes) == 2:
            score = probabilities[:, 1] if probabilities is not None else predictions.margin
        elif probabilities is not None and len(np.unique(truth)) == len(classes):
            score = probabilities
        try:
            auc = None if score is None else _roc_auc(truth, score, classes)
        except ValueError:
            auc = None
        if auc is not None:
            result["roc_auc"] = auc
    return result


def _regression(y: Any, predictions: Predictions) -> dict[str, float]:
    predicted = predictions.predicted
    try:
        return scores.regression_metrics(y, predicted)
    except scores.Unusual:
        return {
            "rmse": math.sqrt(skm.mean_squared_error(y, predicted)),
            "mae": skm.mean_absolute_error(y, predicted),
            "r2": skm.r2_score(y, predicted),
            "mape": skm.mean_absolute_percentage_error(y, predicted),
        }


def split_metrics(model: Any, task: str, y: Any, predictions: Predictions) -> dict[str, float]:
    """The metrics of one split from its predictions (``predict_split``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == CLASSIFICATION:
            return _classification(model, y, predictions)
        return _regression(y, predictions)


def named_metrics(
    model: Any, task: str, splits: dict[str, tuple[Any, Predictions]]
) -> dict[str, float]:
    """Metrics named ``<split>_<metric>`` from each split's targets and predictions."""
    result: dict[str, float] = {}
    for split, (y, predictions) in splits.items():
        for name, value in split_metrics(model, task, y, predictions).items():
            if value is not None and math.isfinite(float(value)):
                result[f"{split}_{name}"] = float(value)
    return result


def evaluate(model: Any, task: str, splits: dict[str, tuple[Any, Any]]) -> dict[str, float]:
    """Metrics named ``<split>_<metric>`` (``validation_accuracy``, ``train_rmse``, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = {name: (y, predict_split(model, X, task)) for name, (X, y) in splits.items()}
    return named_metrics(model, task, predicted)
