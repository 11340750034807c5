"""The evaluation report in the job's MLflow run: the JSON and its images, under evaluation/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_diabetes

from app.config import Settings
from app.execution.spare import Spare
from app.main import create_app
from tests.fixtures.jobs import job_request, wait_for_job
from tests.integrations.registry.conftest import MlflowStore

PNG = b"\x89PNG\r\n\x1a\n"


def run_files(
    store: MlflowStore, run_id: str, tmp_path: Path, expected: set[str]
) -> dict[str, bytes]:
    """The run's evaluation files once all of ``expected`` are there. The JSON is logged
    before the job completes; the images are drawn after its outcome is committed."""
    client = store.client()
    names = {"evaluation/evaluation.json"}
    listed = [f.path for f in client.list_artifacts(run_id, "evaluation")]
    assert names <= set(listed), listed  # at once: the job completed after logging it
    deadline = time.monotonic() + 60
    while {f"evaluation/{name}" for name in expected} - set(listed):
        assert time.monotonic() < deadline, listed
        time.sleep(0.1)
        listed = [f.path for f in client.list_artifacts(run_id, "evaluation")]
    local = Path(client.download_artifacts(run_id, "evaluation", str(tmp_path)))
    return {path.split("/", 1)[1]: (local / path.split("/", 1)[1]).read_bytes() for path in listed}


def completed(client: TestClient, **overrides: Any) -> dict[str, Any]:
    job = client.post("/v1/training-jobs", json=job_request(**overrides)).json()
    done = wait_for_job(client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done
    return done


def test_a_classifiers_run_holds_the_report_and_its_images(
    registry_client: TestClient, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    done = completed(registry_client)
    expected = {
        "evaluation.json",
        "confusion_matrix.png",
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "feature_importance.png",
    }
    files = run_files(mlflow_store, done["registry"]["run_id"], tmp_path, expected)
    assert set(files) == expected
    assert all(body.startswith(PNG) for name, body in files.items() if name.endswith(".png"))
    logged = json.loads(files["evaluation.json"])
    served = registry_client.get(f"/v1/training-jobs/{done['job_id']}/evaluation").json()
    assert logged == served
    assert sum(map(sum, logged["classification"]["confusion_matrix"])) == logged["rows"]


def test_a_regressors_run_holds_residuals_and_predicted_against_actual(
    registry_client: TestClient, mlflow_store: MlflowStore, data_root: Path, tmp_path: Path
) -> None:
    load_diabetes(as_frame=True).frame.to_csv(data_root / "diabetes.csv", index=False)
    done = completed(
        registry_client,
        model_name="diabetes",
        data_source_config={"path": "diabetes.csv", "target_column": "target"},
        algorithm_config={"name": "Ridge"},
    )
    expected = {
        "evaluation.json",
        "predicted_vs_actual.png",
        "residuals.png",
        "feature_importance.png",
    }
    files = run_files(mlflow_store, done["registry"]["run_id"], tmp_path, expected)
    assert set(files) == expected
    assert json.loads(files["evaluation.json"])["task"] == "regression"


def test_a_kept_process_draws_the_images_then_runs_the_next_job(
    registry_client: TestClient, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    expected = {"evaluation.json", "confusion_matrix.png", "roc.png"}
    # The first job may start before the first spare is ready (in a process of its own, while
    # the spare still opens the registry); the spare takes the second and is kept for the third.
    jobs = [completed(registry_client) for _ in range(3)]
    for number, done in enumerate(jobs):
        files = run_files(
            mlflow_store, done["registry"]["run_id"], tmp_path / str(number), expected
        )
        assert expected <= set(files)
    # The second job's process said RECORDED, drew its images, then READY: it was kept.
    deadline = time.monotonic() + 60
    log = ""
    while "supervisor:" not in log and time.monotonic() < deadline:
        log = registry_client.get(f"/v1/training-jobs/{jobs[1]['job_id']}/logs").text
        time.sleep(0.1)
    assert "kept for the next one (outcome: recorded)" in log.splitlines()[-1], log


def test_a_process_drawing_images_comes_back_and_another_spare_runs_the_next_job(
    registry_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the registry on, the pool holds one spare more than the slots: while a kept
    # process draws its job's images (RECORDED_KEPT, then READY), the next job takes the
    # other. No spare is started in place of one that comes back.
    settings = registry_settings.model_copy(update={"max_concurrent_jobs": 1})
    started: list[int] = []
    original = Spare.__init__

    def counted(self: Spare, payload: Any) -> None:
        original(self, payload)
        started.append(self.process.pid)

    with TestClient(create_app(settings)) as client:
        executor = client.app.state.service.executor  # type: ignore[attr-defined]
        pool = executor.spares
        assert pool.size == 2
        deadline = time.monotonic() + 60
        while len(pool._ready) < 2:  # both spares forked and waiting
            assert time.monotonic() < deadline
            time.sleep(0.05)
        monkeypatch.setattr(Spare, "__init__", counted)
        jobs = [completed(client) for _ in range(3)]
        deadline = time.monotonic() + 60
        while len(pool._ready) < 2 or pool._lent:  # every process back, images drawn
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert started == []
        kept = [
            client.get(f"/v1/training-jobs/{job['job_id']}/logs").text.splitlines()[-1]
            for job in jobs[:2]
        ]
        assert all("kept for the next one (outcome: recorded)" in line for line in kept), kept


def test_with_images_off_the_run_holds_the_report_alone(
    registry_settings: Settings, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    settings = registry_settings.model_copy(update={"mlflow_evaluation_images": False})
    with TestClient(create_app(settings)) as client:
        pool = client.app.state.service.executor.spares  # type: ignore[attr-defined]
        assert pool.size == settings.max_concurrent_jobs  # no spare for drawing
        done = completed(client)
        files = run_files(mlflow_store, done["registry"]["run_id"], tmp_path, {"evaluation.json"})
        served = client.get(f"/v1/training-jobs/{done['job_id']}/evaluation").json()
        # The supervisor's closing line comes once the attempt has nothing left to do (with
        # images on, after they are logged): then the run holds the JSON alone.
        deadline = time.monotonic() + 60
        log = ""
        while "supervisor:" not in log and time.monotonic() < deadline:
            log = client.get(f"/v1/training-jobs/{done['job_id']}/logs").text
            time.sleep(0.1)
        assert "supervisor:" in log, log
        run_id = done["registry"]["run_id"]
        listed = [f.path for f in mlflow_store.client().list_artifacts(run_id, "evaluation")]
    assert json.loads(files["evaluation.json"]) == served
    assert listed == ["evaluation/evaluation.json"]
