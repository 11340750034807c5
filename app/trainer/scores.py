"""Metric values from label codes, one confusion matrix and one sort of each score column.

scikit-learn's metric functions validate their input on every call (parameter checks,
``type_of_target``, ``check_array``, label binarisation): on a small split each call costs more
than the arithmetic, and a job's metrics and report make dozens of them over the same labels and
scores. The functions here compute the same values (the same formulas, in the same order of
operations, as scikit-learn's ``metrics`` module) from arrays the caller has already checked;
``tests/trainer/test_scores.py`` compares every one with scikit-learn's own function. Inputs
scikit-learn would refuse or treat specially are not handled here: ``Unusual`` says so, and the
caller falls back to scikit-learn's function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Unusual(ValueError):
    """Input outside what these functions handle; scikit-learn's own function decides."""


def label_codes(y: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorted union of the labels in ``y`` and ``predicted`` (scikit-learn's
    ``unique_labels``), and both as codes into it."""
    truth, guess = np.asarray(y), np.asarray(predicted)
    if truth.ndim != 1 or guess.shape != truth.shape:
        raise Unusual("labels are not two 1-d arrays of one length")
    kinds = {_kind(truth), _kind(guess)}
    if None in kinds or len(kinds) > 1:
        raise Unusual("labels mix strings and numbers, or are neither")
    try:
        labels, codes = np.unique(np.concatenate([truth, guess]), return_inverse=True)
    except TypeError as exc:  # e.g. str and int in one object array
        raise Unusual(str(exc)) from exc
    return labels, codes[: len(truth)], codes[len(truth) :]


def _kind(values: np.ndarray) -> str | None:
    if values.dtype.kind in "biuf":
        return "number"
    if values.dtype.kind in "US":
        return "text"
    if values.dtype.kind == "O":
        if all(isinstance(v, str) for v in values.tolist()):
            return "text"
        return None
    return None


def confusion(truth: np.ndarray, guess: np.ndarray, n: int) -> np.ndarray:
    """Rows: true label, columns: predicted label (codes below ``n``; others are left out)."""
    keep = (truth < n) & (guess < n)
    flat = truth[keep].astype(np.int64) * n + guess[keep]
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def per_class(
    truth: np.ndarray, guess: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support of codes ``0..n-1`` (``zero_division=0``), as
    ``precision_recall_fscore_support(..., labels=...)``: a row whose other label is not among
    them still counts in its own label's sums."""
    tp = np.bincount(truth[truth == guess], minlength=n)[:n].astype(np.float64)
    true_sum = np.bincount(truth, minlength=n)[:n].astype(np.float64)
    pred_sum = np.bincount(guess, minlength=n)[:n].astype(np.float64)
    precision = _divide(tp, pred_sum)
    recall = _divide(tp, true_sum)
    f1 = _divide(2.0 * tp, 1.0 * true_sum + pred_sum)
    return precision, recall, f1, true_sum.astype(np.int64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    zero = denominator == 0.0
    result = numerator / np.where(zero, 1.0, denominator)
    result[zero] = 0.0
    return result


def label_metrics(y: Any, predicted: Any) -> dict[str, float]:
    """Accuracy, balanced accuracy and the macro precision, recall and F1 over every label
    of either array."""
    labels, truth, guess = label_codes(y, predicted)
    n = len(labels)
    matrix = confusion(truth, guess, n)
    precision, recall, f1, _ = per_class(truth, guess, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        balanced = np.diag(matrix) / matrix.sum(axis=1)
    balanced = balanced[~np.isnan(balanced)]
    return {
        "accuracy": float(np.mean(truth == guess)),
        "balanced_accuracy": float(np.mean(balanced)),
        "precision_macro": float(np.average(precision)),
        "recall_macro": float(np.average(recall)),
        "f1_macro": float(np.average(f1)),
    }


def log_loss(y: Any, probabilities: np.ndarray, classes: Any) -> float:
    """``log_loss(y, probabilities, labels=classes)`` for sorted classes, one column each."""
    proba = np.asarray(probabilities)
    if proba.dtype not in (np.float64, np.float32, np.float16):
        proba = proba.astype(np.float64)
    ordered = np.asarray(classes)
    if proba.ndim != 2 or proba.shape[1] != len(ordered) or len(ordered) < 2:
        raise Unusual("probabilities do not have one column per class")
    if not _strictly_increasing(ordered) or proba.max() > 1 or proba.min() < 0:
        raise Unusual("classes out of order, or scores outside [0, 1]")
    codes = np.searchsorted(ordered, np.asarray(y))
    if np.any(codes >= len(ordered)) or np.any(ordered[np.minimum(codes, len(ordered) - 1)] != y):
        raise Unusual("a label outside the classes")
    eps = np.finfo(proba.dtype).eps
    chosen = np.clip(proba, eps, 1 - eps)[np.arange(len(codes)), codes]
    return float(np.mean(-np.log(chosen)))


def _strictly_increasing(values: np.ndarray) -> bool:
    try:
        return bool(np.all(values[:-1] < values[1:]))
    except TypeError:
        return False


def thresholds_curve(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """False and true positives at each distinct score, highest first, and the scores
    (``confusion_matrix_at_thresholds``)."""
    if not np.all(np.isfinite(score)):
        raise ValueError("Input contains NaN or infinity.")  # as scikit-learn refuses it
    order = np.argsort(score, kind="stable")[::-1]
    ranked = score[order]
    positive = truth[order].astype(np.float64)
    distinct = np.nonzero(np.diff(ranked))[0]
    idx = np.concatenate([distinct, [len(positive) - 1]])
    tps = np.cumsum(positive, dtype=np.float64)[idx]
    fps = 1 + idx.astype(np.float64) - tps
    return fps, tps, ranked[idx]


def roc(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``roc_curve(truth, score)`` for a split holding both classes."""
    fps, tps, thresholds = thresholds_curve(truth, score)
    if len(fps) > 2:
        keep = np.where(
            np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]])
        )[0]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps = np.concatenate([[0.0], tps])
    fps = np.concatenate([[0.0], fps])
    thresholds = np.concatenate([[np.inf], thresholds.astype(np.float64)])
    return fps / fps[-1], tps / tps[-1], thresholds


def area(x: np.ndarray, y: np.ndarray) -> float:
    """``auc(x, y)`` of an increasing ``x``."""
    return float(np.trapezoid(y, x))


def roc_auc(truth: np.ndarray, score: np.ndarray) -> float:
    fpr, tpr, _ = roc(truth, score)
    return area(fpr, tpr)


def precision_recall(
    truth: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``precision_recall_curve(truth, score)`` for a split holding both classes."""
    fps, tps, thresholds = thresholds_curve(truth, score)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=ps != 0)
    recall = tps / tps[-1]
    return (
        np.concatenate([precision[::-1], [1.0]]),
        np.concatenate([recall[::-1], [0.0]]),
        thresholds[::-1],
    )


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """``average_precision_score`` from the curve of ``precision_recall``."""
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def calibration(
    truth: np.ndarray, probability: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """``calibration_curve(truth, probability, n_bins=n_bins)``: (prob_true, prob_pred)."""
    if probability.min() < 0 or probability.max() > 1:
        raise Unusual("probabilities outside [0, 1]")
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    binids = np.searchsorted(bins[1:-1], probability)
    bin_sums = np.bincount(binids, weights=probability, minlength=n_bins)
    bin_true = np.bincount(binids, weights=truth, minlength=n_bins)
    bin_total = np.bincount(binids, minlength=n_bins)
    nonzero = bin_total != 0
    return bin_true[nonzero] / bin_total[nonzero], bin_sums[nonzero] / bin_total[nonzero]


def brier(truth: np.ndarray, probability: np.ndarray) -> float:
    """``brier_score_loss(truth, probability)`` of the positive class."""
    labels = truth.astype(probability.dtype)
    squares = ((1 - labels) - (1 - probability)) ** 2 + (labels - probability) ** 2
    return float(np.mean(squares) * 0.5)


def regression_metrics(y: Any, predicted: Any) -> dict[str, float]:
    """RMSE, MAE, R² (``force_finite``) and MAPE of one target."""
    actual = np.asarray(y, dtype=np.float64)
    guess = np.asarray(predicted, dtype=np.float64)
    if actual.ndim != 1 or guess.shape != actual.shape:
        raise Unusual("not one target of one length")
    if not (np.all(np.isfinite(actual)) and np.all(np.isfinite(guess))):
        raise Unusual("a value is not finite")
    errors = actual - guess
    residual = float(np.sum(errors**2))
    total = float(np.sum((actual - np.average(actual)) ** 2))
    if total != 0.0:
        r2 = 1 - residual / total
    else:
        r2 = 1.0 if residual == 0.0 else 0.0
    epsilon = np.finfo(np.float64).eps
    return {
        "rmse": math.sqrt(float(np.average(errors**2))),
        "mae": float(np.average(np.abs(errors))),
        "r2": r2,
        "mape": float(np.average(np.abs(guess - actual) / np.maximum(np.abs(actual), epsilon))),
    }
