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

from app.execution import attempt, trials  # noqa: F401  (the code every child runs)
from app.integrations.data_layer import BUNDLED_DATASETS, bundled_frame
from app.jobs.lifecycle import JobStage
from app.trainer import (
    TrainingSpec,
    estimate,  # noqa: F401  (imported by every job's ``job_estimate``)
    train,
)
from app.trainer.artifacts import write_artifacts


def _warm_database() -> None:
    """First use of an engine and of the ORM costs tens of milliseconds (dialect set-up,
    mapper configuration, statement compilation); pay it here, on a throwaway database."""
    import uuid

    # The PostgreSQL dialect and its driver: the dialect imports psycopg only when an engine
    # is made, which cost every new process about 150 ms.
    import psycopg  # noqa: F401
    from sqlalchemy.dialects.postgresql import psycopg as _  # noqa: F401

    from app.core.db import Base, create_db_engine
    from app.jobs.repository import JobRepository

    engine = create_db_engine("sqlite://")
    Base.metadata.create_all(engine)
    repository = JobRepository(engine)
    repository.get_job(uuid.uuid4())
    repository.advance(uuid.uuid4(), 1, stage=JobStage.PREPROCESSING, progress=10.0, new_stage=True)
    engine.dispose()


def warm() -> None:
    _warm_database()
    for name in BUNDLED_DATASETS:
        bundled_frame(name)
    frame = bundled_frame("iris").copy()
    frame["colour"] = (frame["target"] % 2).map({0: "a", 1: "b"})
    for algorithm in ("LogisticRegression", "DecisionTreeClassifier"):
        result = train(TrainingSpec(algorithm=algorithm, target_column="target"), frame)
    with tempfile.TemporaryDirectory() as folder:
        write_artifacts(Path(folder), result.pipeline, metrics=result.metrics, spec={}, lineage={})
    import optuna  # noqa: F401  (Bayesian asks)

    gc.collect()
    gc.freeze()


try:
    warm()
except Exception:  # an optimisation only: a failure here must not stop the forkserver
    logging.getLogger(__name__).exception("warming the forkserver failed")
