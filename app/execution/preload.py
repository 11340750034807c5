"""What the forkserver imports before it forks any attempt (see ``supervisor.process_context``).

Every attempt is a fork of the forkserver: what is imported, cached or built here (lazy
imports inside scikit-learn, pandas and skops, the estimator allow-list, the bundled
datasets) is not paid for again by each job. ``gc.freeze`` then keeps the collector from
touching, and so copying, the inherited objects in every child. The API process never
imports this module.
"""

from __future__ import annotations

import gc
import logging
import tempfile
from pathlib import Path

from app.clients.data_layer import BUNDLED_DATASETS, _bundled_frame
from app.execution import attempt  # noqa: F401  (the code every child runs)
from app.trainer import TrainingSpec, train
from app.trainer.artifacts import write_artifacts


def warm() -> None:
    for name in BUNDLED_DATASETS:
        _bundled_frame(name)
    frame = _bundled_frame("iris").copy()
    frame["colour"] = (frame["target"] % 2).map({0: "a", 1: "b"})
    for algorithm in ("LogisticRegression", "DecisionTreeClassifier"):
        result = train(TrainingSpec(algorithm=algorithm, target_column="target"), frame)
    with tempfile.TemporaryDirectory() as folder:
        write_artifacts(Path(folder), result.pipeline, metrics=result.metrics, spec={}, lineage={})
    gc.collect()
    gc.freeze()


try:
    warm()
except Exception:  # an optimisation only: a failure here must not stop the forkserver
    logging.getLogger(__name__).exception("warming the forkserver failed")
