"""A script that uses the service with no ``if __name__ == "__main__":`` guard still trains.

Training processes come from a forkserver; were the caller's main module imported again in
each of them, this script's module-level ``asyncio.run`` would run once more per job and stop
in multiprocessing's bootstrapping check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.config import Settings
from tests.fixtures import ROOT

SCRIPT = """
import asyncio
from app.schemas import AlgorithmConfig, DataSourceConfig, TrainingJobRequest
from app.service import MLModelTrainingService


async def main() -> None:
    service = MLModelTrainingService()
    job = await service.submit_training_job(
        TrainingJobRequest(
            model_name="iris",
            data_source_config=DataSourceConfig(path="sklearn://iris", target_column="target"),
            algorithm_config=AlgorithmConfig(name="RandomForestClassifier"),
        )
    )
    while job.status in ("pending", "running"):
        await asyncio.sleep(0.2)
        job = await service.get_training_job_status(job.job_id)
    print("status:", job.status, job.error or "")
    service.close()


asyncio.run(main())
"""


def test_a_script_without_a_main_guard_trains_a_job(settings: Settings, tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env |= {
        "TRAINYARD_DATABASE_URL": settings.database_url,
        "TRAINYARD_DATA_ROOTS": ",".join(str(p) for p in settings.data_roots),
        "TRAINYARD_ARTIFACT_ROOT": str(settings.artifact_root),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "status: completed" in result.stdout, result.stdout + result.stderr[-3000:]
    assert "bootstrapping phase" not in result.stderr
