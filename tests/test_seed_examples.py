"""The seed guide's examples, run as written with their imports pointed at ``app``."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from app.config import Settings


@pytest.fixture
def seed_environment(settings: Settings, data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded defaults, pointed at this test's database, data root and artifacts."""
    monkeypatch.setenv("TRAINYARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRAINYARD_DATA_ROOTS", str(data_root))
    monkeypatch.setenv("TRAINYARD_ARTIFACT_ROOT", str(settings.artifact_root))
    monkeypatch.setenv("TRAINYARD_MLFLOW_TRACKING_URI", "")
    from app.config import get_settings

    get_settings.cache_clear()
    frame = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, -1]]
    frame.columns = ["feature1", "feature2", "target"]
    path = data_root / "data.parquet"
    frame.to_parquet(path)
    yield path
    get_settings.cache_clear()


def test_seed_examples_run_as_written(
    seed_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --- section 2 ---
    from app.service import MLModelTrainingService

    training_service = MLModelTrainingService()

    # --- section 3.1 (data path pointed at a local file) ---
    from app.exceptions import ConfigurationError, ResourceNotFoundError
    from app.schemas import AlgorithmConfig, DataSourceConfig, TrainingJobRequest

    submitted: list[uuid.UUID] = []

    async def run_submit_example() -> None:
        sample_data_config = DataSourceConfig(
            path=str(seed_environment),
            type="parquet",
            feature_columns=["feature1", "feature2"],
            target_column="target",
        )
        sample_algo_config = AlgorithmConfig(
            name="RandomForestClassifier",
            framework="scikit-learn",
            parameters={"n_estimators": 100, "random_state": 42},
        )
        training_request = TrainingJobRequest(
            model_name="MyClassificationModel",
            data_source_config=sample_data_config,
            algorithm_config=sample_algo_config,
            experiment_name="ClassificationExperiment_01",
        )
        try:
            job_status = await training_service.submit_training_job(training_request)
            print(f"Submitted training job ID: {job_status.job_id}, Status: {job_status.status}")
            submitted.append(job_status.job_id)
        except ConfigurationError as e:
            print(f"Configuration Error: {e.message}")

    asyncio.run(run_submit_example())
    assert "Status: pending" in capsys.readouterr().out

    # --- section 3.2 ---
    async def run_status_example(target_job_id: uuid.UUID) -> None:
        try:
            status = await training_service.get_training_job_status(target_job_id)
            print(f"Job {status.job_id} Status: {status.status}, Progress: {status.progress}%")
            if status.status == "completed":
                print(f"Metrics: {status.metrics}")
                print(f"Artifacts at: {status.artifacts_location}")
            elif status.status == "failed":
                print(f"Error Message: {status.message}")
        except ResourceNotFoundError as e:
            print(e.message)

    deadline = time.monotonic() + 60
    while True:
        asyncio.run(run_status_example(submitted[0]))
        out = capsys.readouterr().out
        if "Status: completed" in out or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "Status: completed, Progress: 100.0%" in out
    assert "validation_accuracy" in out
    assert "Artifacts at: " in out

    asyncio.run(run_status_example(uuid.uuid4()))
    assert "not found" in capsys.readouterr().out

    # --- section 3.3 ---
    async def run_list_example() -> None:
        jobs = await training_service.list_training_jobs(limit=10)
        print(f"Found {len(jobs)} training jobs:")
        for job in jobs:
            print(f"  ID: {job.job_id}, Model: {job.model_name}, Status: {job.status}")

    asyncio.run(run_list_example())
    out = capsys.readouterr().out
    assert "Found 1 training jobs:" in out
    assert "Model: MyClassificationModel" in out

    # --- section 5: a configuration error carries .message ---
    async def run_bad_submit() -> None:
        try:
            await training_service.submit_training_job(
                TrainingJobRequest(
                    model_name="Bad",
                    data_source_config=DataSourceConfig(path="missing.parquet", target_column="t"),
                    algorithm_config=AlgorithmConfig(name="RandomForestClassifier"),
                )
            )
        except ConfigurationError as e:
            print(f"Configuration Error: {e.message}")

    asyncio.run(run_bad_submit())
    assert "Configuration Error: data_source_config.path: no such file" in capsys.readouterr().out
    training_service.close()
