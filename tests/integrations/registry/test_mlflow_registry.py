"""Jobs logged to a real MLflow store: experiment, run, params, metrics, registered version."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from app.config import Settings
from app.execution.registration import RegistryRun
from app.jobs.lifecycle import JobStage
from app.main import create_app
from app.schemas import TrainingJobRequest
from app.service import MLModelTrainingService
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job
from tests.integrations.registry.conftest import MlflowStore


def submit(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def flowers_csv(data_root: Path) -> Path:
    """Iris with a text column, so the pipeline holds Trainyard's own transformer types."""
    frame = load_iris(as_frame=True).frame
    frame["colour"] = np.where(frame["petal length (cm)"] > 3, "violet", "white")
    frame.loc[::7, "colour"] = None
    path = data_root / "flowers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def global_tracking_uri(mlflow_store: MlflowStore) -> Iterator[None]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_store.tracking_uri)
    yield
    mlflow.set_tracking_uri(previous)


def wait_for_run_status(
    store: MlflowStore, run_id: str, status: str, timeout: float = 20.0
) -> None:
    client = store.client()
    deadline = time.monotonic() + timeout
    while (current := client.get_run(run_id).info.status) != status:
        assert time.monotonic() < deadline, f"run {run_id} is {current}, not {status}"
        time.sleep(0.1)


def test_completed_job_is_in_mlflow_and_the_registered_model_predicts_like_the_api(
    registry_client: TestClient,
    registry_settings: Settings,
    mlflow_store: MlflowStore,
    flowers_csv: Path,
    global_tracking_uri: None,
    tmp_path: Path,
) -> None:
    job = submit(
        registry_client,
        model_name="flowers",
        data_source_config={"path": flowers_csv.name, "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 25}},
        experiment_name="garden",
        tags={"team": "research", "budget": 3},
    )
    done = wait_for_job(registry_client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done
    registry = done["registry"]
    assert registry["model_uri"] == "models:/flowers/1"
    assert registry["registered_version"] == "1"
    assert done["artifacts_location"] == "models:/flowers/1"
    events = registry_client.get(f"/v1/training-jobs/{job['job_id']}/events").json()
    assert [e["stage"] for e in events][-3:] == ["storing_artifacts", "registering", "done"]
    # The local artifacts stay whether or not a registry is used.
    local = registry_settings.artifact_root.resolve() / job["job_id"]
    assert (local / "model.skops").is_file()

    mlflow = mlflow_store.client()
    experiment = mlflow.get_experiment_by_name("garden")
    assert experiment.experiment_id == registry["experiment_id"]
    assert Path(experiment.artifact_location.removeprefix("file://")).is_relative_to(
        mlflow_store.artifact_root
    )
    run = mlflow.get_run(registry["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == experiment.experiment_id
    assert run.info.run_name == f"trainyard-job-{job['job_id']}"
    assert run.data.tags["trainyard.job_id"] == job["job_id"]
    assert run.data.tags["trainyard.model_name"] == "flowers"
    assert run.data.tags["trainyard.model_version"] == "1"
    assert (run.data.tags["team"], run.data.tags["budget"]) == ("research", "3")
    assert run.data.params["algorithm"] == "RandomForestClassifier"
    assert run.data.params["n_estimators"] == "25"
    assert run.data.params["max_depth"] == "None"
    for name, value in done["metrics"].items():
        assert run.data.metrics[name] == pytest.approx(value, rel=1e-12), name

    version = mlflow.get_model_version("flowers", "1")
    assert version.run_id == registry["run_id"]
    assert version.tags["trainyard.job_id"] == job["job_id"]
    assert str(mlflow.get_model_version_by_alias("flowers", "candidate").version) == "1"

    import mlflow.sklearn

    loaded = mlflow.sklearn.load_model("models:/flowers/1")
    rows = [
        {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4,
         "petal width (cm)": 0.2, "colour": "white"},
        {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2,
         "petal width (cm)": 2.3, "colour": "violet"},
        {"sepal length (cm)": 5.9, "sepal width (cm)": 3.0, "petal length (cm)": 4.2,
         "petal width (cm)": 1.5, "colour": None},
    ]  # fmt: skip
    response = registry_client.post(
        f"/v1/training-jobs/{job['job_id']}/predictions", json={"rows": rows}
    )
    assert response.status_code == 200, response.text
    served = response.json()
    frame = pd.DataFrame.from_records(rows)
    assert served["predictions"] == loaded.predict(frame).tolist()
    assert served["classes"] == loaded.classes_.tolist()
    assert served["probabilities"] == loaded.predict_proba(frame).tolist()

    # The environment files beside the model (made once per process, the same for each job).
    import platform

    import sklearn
    import yaml
    from mlflow.artifacts import download_artifacts

    folder = Path(download_artifacts("models:/flowers/1", dst_path=str(tmp_path / "model")))
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={sklearn.__version__}" in requirements
    conda = yaml.safe_load((folder / "conda.yaml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert set(requirements) <= set(pip)
    python_env = yaml.safe_load((folder / "python_env.yaml").read_text())
    assert python_env["python"] == platform.python_version()


def test_two_jobs_for_a_new_experiment_submitted_at_once_share_it(
    registry_client: TestClient, mlflow_store: MlflowStore
) -> None:
    jobs = [
        submit(registry_client, model_name="twins", experiment_name="brand-new") for _ in range(2)
    ]
    done = [wait_for_job(registry_client, j["job_id"], timeout=120) for j in jobs]
    assert [d["status"] for d in done] == ["completed", "completed"], done
    experiment_ids = {d["registry"]["experiment_id"] for d in done}
    assert len(experiment_ids) == 1
    mlflow = mlflow_store.client()
    assert mlflow.get_experiment_by_name("brand-new").experiment_id in experiment_ids
    runs = mlflow.search_runs(list(experiment_ids))
    assert sorted(r.data.tags["trainyard.job_id"] for r in runs) == sorted(
        j["job_id"] for j in jobs
    )
    assert {r.info.status for r in runs} == {"FINISHED"}, [(r.info, r.data.tags) for r in runs]
    versions = mlflow.search_model_versions("name = 'twins'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]


def test_a_job_that_fails_in_training_has_a_failed_run(
    registry_client: TestClient, mlflow_store: MlflowStore, data_root: Path
) -> None:
    pd.DataFrame({"x": range(20), "label": ["same"] * 20}).to_csv(
        data_root / "one-class.csv", index=False
    )
    job = submit(
        registry_client,
        data_source_config={"path": "one-class.csv", "target_column": "label"},
        experiment_name="failures",
    )
    done = wait_for_job(registry_client, job["job_id"], timeout=120)
    assert done["status"] == "failed", done
    assert done["error"]["type"] == "DataAccessError"
    run = mlflow_store.client().get_run(done["registry"]["run_id"])
    assert run.info.status == "FAILED"
    assert run.data.tags["trainyard.job_id"] == job["job_id"]


def test_a_registry_failure_fails_the_job_in_registering_and_keeps_local_artifacts(
    registry_client: TestClient,
    registry_settings: Settings,
    mlflow_store: MlflowStore,
    tmp_path: Path,
) -> None:
    # An experiment whose artifact location cannot be written: below a regular file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    mlflow = mlflow_store.client()
    mlflow.create_experiment("blocked", artifact_location=(blocker / "artifacts").as_uri())
    job = submit(registry_client, experiment_name="blocked")
    done = wait_for_job(registry_client, job["job_id"], timeout=120)
    assert done["status"] == "failed", done
    assert done["stage"] == "registering"
    assert done["error"]["type"] == "ModelRegistryError"
    assert done["error"]["stage"] == "registering"
    assert "could not log the model" in done["error"]["message"]
    local = registry_settings.artifact_root.resolve() / job["job_id"]
    assert (local / "model.skops").is_file()
    assert (local / "metrics.json").is_file()
    assert mlflow.get_run(done["registry"]["run_id"]).info.status == "FAILED"


def test_a_cancelled_job_has_a_killed_run(
    registry_client: TestClient, mlflow_store: MlflowStore
) -> None:
    job = submit(
        registry_client,
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 3000}},
        experiment_name="cancelled",
    )
    deadline = time.monotonic() + 120
    while True:
        status = registry_client.get(f"/v1/training-jobs/{job['job_id']}").json()
        if status["stage"] == "training" and (status["registry"] or {}).get("run_id"):
            break
        assert status["status"] in ("pending", "running"), status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    run_id = status["registry"]["run_id"]
    assert mlflow_store.client().get_run(run_id).info.status == "RUNNING"
    response = registry_client.post(f"/v1/training-jobs/{job['job_id']}/cancel")
    assert response.status_code == 202, response.text
    done = wait_for_job(registry_client, job["job_id"], timeout=60)
    assert done["status"] == "cancelled", done
    wait_for_run_status(mlflow_store, run_id, "KILLED")


def test_search_trials_can_be_logged_as_child_runs(
    registry_client: TestClient, mlflow_store: MlflowStore
) -> None:
    job = submit(
        registry_client,
        model_name="searched",
        experiment_name="with-trials",
        algorithm_config={"name": "DecisionTreeClassifier"},
        hyperparameter_tuning_config={
            "strategy": "grid",
            "search_space": {"max_depth": [1, 2, 3]},
            "log_trials": True,
        },
    )
    done = wait_for_job(registry_client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done
    parent = done["registry"]["run_id"]
    mlflow = mlflow_store.client()
    children = mlflow.search_runs(
        [done["registry"]["experiment_id"]], f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert sorted(int(r.data.params["max_depth"]) for r in children) == [1, 2, 3]
    assert {r.info.status for r in children} == {"FINISHED"}
    trials = registry_client.get(f"/v1/training-jobs/{job['job_id']}/trials").json()
    by_depth = {t["params"]["max_depth"]: t["mean_score"] for t in trials}
    for run in children:
        assert run.data.metrics["mean_score"] == by_depth[int(run.data.params["max_depth"])]


def test_a_store_that_cannot_be_opened_fails_the_job_in_registering(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    # A tracking store below a regular file: the store cannot even be created.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        mlflow_tracking_uri=f"sqlite:///{blocker}/mlflow.db",
        mlflow_artifact_root=tmp_path / "mlruns",
    )
    with TestClient(create_app(settings)) as client:
        job = submit(client)
        done = wait_for_job(client, job["job_id"], timeout=120)
    assert done["status"] == "failed", done
    assert done["error"]["type"] == "ModelRegistryError", done["error"]
    assert done["error"]["stage"] == "registering"
    assert "MLflow" in done["error"]["message"]
    assert (settings.artifact_root.resolve() / job["job_id"] / "model.skops").is_file()


def test_the_reaper_ends_the_run_of_an_attempt_whose_worker_vanished(
    registry_settings: Settings, mlflow_store: MlflowStore
) -> None:
    # An attempt on a worker that was then killed outright: it holds a short lease and has
    # started its registry run, and nobody will ever end that run but the reaper.
    service = MLModelTrainingService(settings=registry_settings)
    try:
        request = TrainingJobRequest.model_validate(job_request(model_name="orphaned"))
        status, _ = service.jobs.record(request, idempotency_key=None, tenant="")
        claim = service.repository.claim(
            owner="gone@elsewhere:1:x", lease_seconds=0.1, job_id=status.job_id
        )
        assert claim is not None
        job = service.repository.get_job(status.job_id)
        assert job is not None
        assert service.model_registry_client is not None
        run = RegistryRun(service.model_registry_client, status.job_id, claim.attempt)
        run.begin(job, request)
        assert service.repository.advance(
            status.job_id,
            claim.attempt,
            stage=JobStage.FETCHING_DATA,
            progress=2.0,
            fields={"registry_info": run.info()},
        )
        assert run.run_id is not None
        time.sleep(0.2)  # the lease runs out

        service.start()  # the executor reaps at start-up, then runs the requeued job
        wait_for_run_status(mlflow_store, run.run_id, "KILLED", timeout=120)
        deadline = time.monotonic() + 120
        while (done := service.jobs.get_status(status.job_id, tenant="")).status != "completed":
            assert time.monotonic() < deadline, done
            assert done.status in ("pending", "running"), done
            time.sleep(0.1)
        assert done.attempt == 2
        assert done.registry is not None
        assert done.registry.run_id != run.run_id
        assert mlflow_store.client().get_run(done.registry.run_id).info.status == "FINISHED"
    finally:
        service.close()
