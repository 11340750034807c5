"""What a fitted model says about one split's rows, computed once and shared.

The metrics, the evaluation report and the permutation importance's baseline all need the
predicted labels (and a classifier's scores) of the same rows. Each call through a pipeline
pays its preprocessing again, and on small data that is most of the cost: the rows go through
the preprocessing once here, and the final estimator is asked for each output on the result,
which is what ``Pipeline.predict`` and ``Pipeline.predict_proba`` do one call at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from app.trainer.algorithms import CLASSIFICATION

# What a model without a usable output raises: e.g. SVC(probability=False).predict_proba.
NO_OUTPUT = (AttributeError, ValueError, NotImplementedError)


def final_step(model: Any, X: Any) -> tuple[Any, Any]:
    """The final estimator and ``X`` through every step before it: what a pipeline's
    ``predict`` hands its estimator. A bare estimator is its own final step."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model.steps[-1][1], model[:-1].transform(X)
    if isinstance(model, Pipeline):
        return model.steps[-1][1], X
    return model, X


@dataclass(frozen=True)
class Predictions:
    """``predicted``: labels or values; ``probabilities``: ``predict_proba`` when the model
    has it; ``margin``: ``decision_function`` when it has no probabilities (None otherwise);
    ``seconds``: what the rows through the preprocessing and ``predict`` took; ``features``:
    the rows as the final estimator saw them, when that is a dense array (None otherwise)."""

    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    margin: np.ndarray | None = None
    seconds: float = 0.0
    features: np.ndarray | None = None


def _output(estimator: Any, method: str, Xt: Any) -> np.ndarray | None:
    if not hasattr(estimator, method):
        return None
    try:
        return np.asarray(getattr(estimator, method)(Xt))
    except NO_OUTPUT:
        return None


def predict_split(model: Any, X: Any, task: str, *, keep_features: bool = False) -> Predictions:
    """Predict ``X`` once; a classifier's probabilities (else its decision function) too.
    ``keep_features``: keep the rows as the final estimator saw them (the permutation
    importance shuffles them), which holds their memory as long as the predictions."""
    started = time.perf_counter()
    estimator, Xt = final_step(model, X)
    predicted = np.asarray(estimator.predict(Xt))
    seconds = time.perf_counter() - started
    dense = isinstance(Xt, np.ndarray) and Xt.ndim == 2
    features = Xt if keep_features and dense else None
    if task != CLASSIFICATION:
        return Predictions(predicted, seconds=seconds, features=features)
    probabilities = _output(estimator, "predict_proba", Xt)
    margin = None if probabilities is not None else _output(estimator, "decision_function", Xt)
    return Predictions(predicted, probabilities, margin, seconds, features)


def _rows(values: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    return None if values is None else values[start:stop]


def _own_rows(values: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    # A copy: a view would keep every frame's rows alive.
    return None if values is None else values[start:stop].copy()


def predict_splits(
    model: Any, frames: list[pd.DataFrame], task: str, *, keep_features: int | None = None
) -> list[Predictions]:
    """``predict_split`` of each frame (same columns), with the rows of all of them through
    the pipeline in one call: a prediction's fixed cost is paid once. Each frame's
    ``seconds`` is its rows' share of that call's time. ``keep_features``: the index of the
    frame whose preprocessed rows are kept (``predict_split``'s ``keep_features``)."""
    if len(frames) == 1:
        return [predict_split(model, frames[0], task, keep_features=keep_features == 0)]
    joined = pd.concat(frames, ignore_index=True)
    together = predict_split(model, joined, task, keep_features=keep_features is not None)
    out = []
    start = 0
    total = max(sum(len(frame) for frame in frames), 1)
    for index, frame in enumerate(frames):
        stop = start + len(frame)
        out.append(
            Predictions(
                together.predicted[start:stop],
                _rows(together.probabilities, start, stop),
                _rows(together.margin, start, stop),
                together.seconds * len(frame) / total,
                _own_rows(together.features, start, stop) if index == keep_features else None,
            )
        )
        start = stop
    return out
