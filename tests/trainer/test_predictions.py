"""One pass through the pipeline gives what each of ``predict``, ``predict_proba`` and
``decision_function`` gives, for one split and for several at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.trainer import TrainingSpec, train
from app.trainer.importance import ImportanceBudget
from app.trainer.predictions import predict_split, predict_splits


def frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        {
            "colour": rng.choice(["red", "blue", None], size=rows),
            "size": rng.normal(size=rows),
            "when": [f"2024-02-{1 + i % 28:02d}" for i in range(rows)],
        }
    )
    data["target"] = np.where(data["size"] + (data["colour"] == "red") > 0.3, "yes", "no")
    return data


@pytest.mark.parametrize("algorithm", ["LogisticRegression", "LinearSVC", "RandomForestClassifier"])
def test_shared_predictions_are_the_pipelines_own(algorithm: str) -> None:
    data = frame()
    spec = TrainingSpec(algorithm, "target", importance=ImportanceBudget(seconds=0))
    pipeline = train(spec, data).pipeline
    X = data.drop(columns="target")
    first, second = X.iloc[:40], X.iloc[40:]
    alone = predict_split(pipeline, first, "classification")
    together = predict_splits(pipeline, [first, second], "classification")
    for part, predictions in ((first, alone), (first, together[0]), (second, together[1])):
        assert np.array_equal(predictions.predicted, pipeline.predict(part))
        if hasattr(pipeline, "predict_proba"):
            assert predictions.margin is None
            assert np.allclose(predictions.probabilities, pipeline.predict_proba(part), 0, 1e-12)
        else:
            assert predictions.probabilities is None
            assert np.allclose(predictions.margin, pipeline.decision_function(part), 0, 1e-12)
