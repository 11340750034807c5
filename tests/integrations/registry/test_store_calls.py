"""What the MLflow client does beyond MLflow's own client calls: the spare's warm-up reads and
the artifacts written to the locations the process already knows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.integrations.registry.mlflow import MlflowRegistryClient
from tests.integrations.registry.conftest import MlflowStore

TABLES = ("experiments", "runs", "logged_models", "registered_models", "model_versions")


def row_counts(store: MlflowStore) -> dict[str, int]:
    path = store.tracking_uri.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def registry(store: MlflowStore) -> MlflowRegistryClient:
    return MlflowRegistryClient(store.tracking_uri, artifact_root=store.artifact_root)


def test_the_warm_up_reads_and_writes_nothing(mlflow_store: MlflowStore) -> None:
    before = row_counts(mlflow_store)
    registry(mlflow_store).warm_up()
    assert row_counts(mlflow_store) == before


def test_the_report_lands_in_the_run_whichever_process_started_it(
    mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    starter = registry(mlflow_store)
    experiment = starter.get_or_create_experiment("reports")
    here = starter.start_run(experiment, "started here", {})
    elsewhere = starter.start_run(experiment, "started by another process", {})
    starter.log_evaluation(here, {"rows": 1})
    # A client that did not start the run (another process: the pickled client) asks MLflow
    # where the run's artifacts are.
    other = registry(mlflow_store)
    other.log_evaluation(elsewhere, {"rows": 2})

    client = mlflow_store.client()
    for run_id, rows in ((here, 1), (elsewhere, 2)):
        listed = [f.path for f in client.list_artifacts(run_id, "evaluation")]
        assert listed == ["evaluation/evaluation.json"]
        local = Path(client.download_artifacts(run_id, "evaluation/evaluation.json", str(tmp_path)))
        assert local.read_text() == f'{{\n  "rows": {rows}\n}}'
