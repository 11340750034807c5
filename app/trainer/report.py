"""The evaluation report: what a fitted pipeline gets right and wrong on the validation split.

Classification: the confusion matrix, per-class precision/recall/F1/support, ROC and
precision-recall curves (binary, or one-vs-rest for each class) and a calibration curve;
regression: a sample of predicted against actual, the residuals' histogram and quantiles. Both
get permutation feature importance on the original input columns (``importance.py``).

Every number is a JSON number or null (scikit-learn's infinite first ROC threshold becomes
null), curves are thinned to at most ``MAX_CURVE_POINTS`` points that are all points of the
original curve, and every label is ``str()`` of the class.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from app.trainer import scores
from app.trainer.algorithms import CLASSIFICATION, REGRESSION
from app.trainer.importance import ImportanceBudget, permutation_report
from app.trainer.predictions import Predictions, predict_split

MAX_CURVE_POINTS = 201
MAX_CURVE_CLASSES = 50
REGRESSION_SAMPLE = 500
CALIBRATION_BINS = 10
HISTOGRAM_MAX_BINS = 40
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def thin_indices(length: int, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``limit`` indices into ``range(length)``, evenly spread, first and last kept."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.round(np.linspace(0, length - 1, limit)).astype(int))


def numbers(values: Any) -> list[float | None]:
    """Floats for JSON; NaN and infinities become null."""
    out: list[float | None] = []
    for value in np.asarray(values, dtype=float).ravel().tolist():
        out.append(value if math.isfinite(value) else None)
    return out


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _labels(classes: Sequence[Any], y: pd.Series) -> list[Any]:
    """The model's classes, then any class of the split the model never saw (an unstratified
    split can hold one), so that the confusion matrix accounts for every row."""
    known = list(classes)
    seen = {str(c) for c in known}
    extra = sorted({v for v in pd.unique(y) if str(v) not in seen}, key=str)
    return known + extra


def _scores(predictions: Predictions, n_classes: int) -> tuple[np.ndarray | None, str | None]:
    """Per-class scores, shape (rows, classes): probabilities when the model has them, else
    its decision function (binary: the positive class's margin, as one column)."""
    if predictions.probabilities is not None:
        return np.asarray(predictions.probabilities, dtype=float), "predict_proba"
    if predictions.margin is not None:
        margin = np.asarray(predictions.margin, dtype=float)
        if margin.ndim == 1 and n_classes == 2:
            return margin.reshape(-1, 1), "decision_function"
        if margin.ndim == 2 and margin.shape[1] == n_classes:  # one-vs-one shapes do not map
            return margin, "decision_function"
    return None, None


def _curves(
    y: np.ndarray, scores: np.ndarray, source: str, classes: list[Any], notes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """ROC, precision-recall and calibration entries: the positive class for two classes,
    one-vs-rest for each class otherwise."""
    roc: list[dict[str, Any]] = []
    pr: list[dict[str, Any]] = []
    calibration: list[dict[str, Any]] = []
    if len(classes) == 2:
        columns = [(1, scores[:, -1])]  # probabilities: column 1; a margin: its only column
    else:
        indices = list(range(len(classes)))
        if len(indices) > MAX_CURVE_CLASSES:
            # Many classes: the curves of the most frequent ones keep the report small.
            counts = [int((y == c).sum()) for c in classes]
            indices = sorted(sorted(indices, key=lambda i: -counts[i])[:MAX_CURVE_CLASSES])
            notes.append(
                f"curves for the {MAX_CURVE_CLASSES} classes with the most validation rows "
                f"only (of {len(classes)})"
            )
        columns = [(i, scores[:, i]) for i in indices]
    for index, score in columns:
        label = str(classes[index])
        truth = y == np.asarray(classes, dtype=object)[index]
        positives = int(truth.sum())
        if positives in (0, len(truth)):
            why = "it is not in" if positives == 0 else "it is the only class of"
            notes.append(f"no curves for class {label!r}: {why} the validation split")
            continue
        roc.append(_roc(label, truth, score))
        pr.append(_precision_recall(label, truth, score))
        if source == "predict_proba":
            calibration.append(_calibration(label, truth, score))
    if source != "predict_proba" and columns:
        notes.append("no calibration curve: the model gives decision scores, not probabilities")
    return {"roc": roc, "precision_recall": pr, "calibration": calibration}


def _roc(label: str, truth: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    fpr, tpr, thresholds = scores.roc(truth, score)
    keep = thin_indices(len(fpr))
    return {
        "label": label,
        "fpr": numbers(fpr[keep]),
        "tpr": numbers(tpr[keep]),
        "thresholds": numbers(thresholds[keep]),
        "auc": _number(scores.area(fpr, tpr)),
        "points": int(len(fpr)),
    }


def _precision_recall(label: str, truth: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    precision, recall, thresholds = scores.precision_recall(truth, score)
    # The last point (precision 1, recall 0) has no threshold: null keeps the arrays aligned.
    thresholds = np.append(thresholds, np.nan)
    keep = thin_indices(len(precision))
    return {
        "label": label,
        "precision": numbers(precision[keep]),
        "recall": numbers(recall[keep]),
        "thresholds": numbers(thresholds[keep]),
        "average_precision": _number(scores.average_precision(precision, recall)),
        "points": int(len(precision)),
    }


def _calibration(label: str, truth: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    clipped = np.clip(probability, 0.0, 1.0)
    prob_true, prob_pred = scores.calibration(truth, clipped, CALIBRATION_BINS)
    return {
        "label": label,
        "prob_pred": numbers(prob_pred),
        "prob_true": numbers(prob_true),
        "bins": CALIBRATION_BINS,
        "brier_score": _number(scores.brier(truth, clipped)),
    }


def _flat(predicted: Any) -> np.ndarray:
    array = np.asarray(predicted)
    return array.ravel() if array.ndim > 1 and array.shape[1] == 1 else array


def classification_report(
    model: Any, X: pd.DataFrame, y: pd.Series, predictions: Predictions | None = None
) -> dict[str, Any]:
    classes = list(model.classes_) if hasattr(model, "classes_") else []
    labels = _labels(classes or sorted(pd.unique(y), key=str), y)
    notes: list[str] = []
    if predictions is None:
        predictions = predict_split(model, X, CLASSIFICATION)
    # Compare as strings: a boosting model may answer "1" for the label 1, or 1.0 for 1.
    by_text = {str(label): label for label in labels}
    truth_key = np.array([str(v) for v in np.asarray(y, dtype=object)], dtype=object)
    predicted_key = [str(v) for v in np.asarray(_flat(predictions.predicted), dtype=object)]
    keys = list(by_text)
    code = {key: i for i, key in enumerate(keys)}
    truth = np.array([code[key] for key in truth_key], dtype=np.int64)
    guess = np.array([code.get(key, len(keys)) for key in predicted_key], dtype=np.int64)
    matrix = scores.confusion(truth, guess, len(keys))
    precision, recall, f1, support = scores.per_class(truth, guess, len(keys))
    per_class = [
        {
            "label": key,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, key in enumerate(keys)
    ]
    curves: dict[str, list[dict[str, Any]]] = {"roc": [], "precision_recall": [], "calibration": []}
    source = None
    if classes and len(classes) >= 2:
        by_class, source = _scores(predictions, len(classes))
        if by_class is not None and source is not None:
            class_keys = [str(c) for c in classes]
            curves = _curves(truth_key, by_class, source, class_keys, notes)
        else:
            notes.append("no curves: the model has neither predict_proba nor decision_function")
    return {
        "labels": keys,
        "confusion_matrix": matrix.astype(int).tolist(),
        "per_class": per_class,
        "score_source": source,
        **curves,
        "notes": notes,
    }


def regression_report(
    model: Any, X: pd.DataFrame, y: pd.Series, *, seed: int, predictions: Predictions | None = None
) -> dict[str, Any]:
    if predictions is None:
        predictions = predict_split(model, X, REGRESSION)
    actual = np.asarray(y, dtype=float)
    predicted = _flat(predictions.predicted).astype(float)
    residuals = actual - predicted
    rng = np.random.default_rng(seed)
    if len(actual) > REGRESSION_SAMPLE:
        sample = np.sort(rng.choice(len(actual), size=REGRESSION_SAMPLE, replace=False))
    else:
        sample = np.arange(len(actual))
    finite = residuals[np.isfinite(residuals)]
    edges = np.histogram_bin_edges(finite, bins="auto") if finite.size else np.array([0.0, 1.0])
    if len(edges) - 1 > HISTOGRAM_MAX_BINS:
        edges = np.histogram_bin_edges(finite, bins=HISTOGRAM_MAX_BINS)
    counts, edges = np.histogram(finite, bins=edges)
    quantiles = np.quantile(finite, QUANTILES) if finite.size else [math.nan] * len(QUANTILES)
    return {
        "sample": {
            "actual": numbers(actual[sample]),
            "predicted": numbers(predicted[sample]),
            "rows": int(len(sample)),
            "seed": seed,
        },
        "residuals": {
            "definition": "actual - predicted",
            "histogram": {"bin_edges": numbers(edges), "counts": counts.astype(int).tolist()},
            "quantiles": {str(q): _number(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
            "mean": _number(finite.mean()) if finite.size else None,
            "std": _number(finite.std()) if finite.size else None,
        },
    }


def evaluation_report(
    model: Any,
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    seed: int = 0,
    budget: ImportanceBudget | None = None,
    predictions: Predictions | None = None,
) -> dict[str, Any]:
    """The report of ``model`` on the validation split ``X``, ``y`` (JSON-ready), from the
    split's ``predictions`` when the caller has them (``predict_split``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if predictions is None:
            rows = (budget or ImportanceBudget()).max_rows
            predictions = predict_split(model, X, task, keep_features=len(X) <= rows)
        if task == CLASSIFICATION:
            classification = classification_report(model, X, y, predictions)
            regression = None
        else:
            classification = None
            regression = regression_report(model, X, y, seed=seed, predictions=predictions)
        importance, skipped = permutation_report(
            model,
            task,
            X,
            y,
            seed=seed,
            budget=budget or ImportanceBudget(),
            predictions=predictions,
        )
    return {
        "task": task,
        "split": "validation",
        "rows": int(len(X)),
        "classification": classification,
        "regression": regression,
        "feature_importance": importance,
        "skipped_reason": skipped,
    }
