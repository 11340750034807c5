"""A boosting model logged to a real MLflow store, loaded back safely, predicting like the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.jobs import wait_for_job
from tests.integrations.registry.conftest import MlflowStore
from tests.trainer.test_boosting import FEATURES, mixed_csv


@pytest.fixture
def global_tracking_uri(mlflow_store: MlflowStore) -> Iterator[None]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_store.tracking_uri)
    yield
    mlflow.set_tracking_uri(previous)


@pytest.mark.parametrize("algorithm", ["XGBClassifier", "LGBMClassifier", "CatBoostClassifier"])
def test_a_boosting_job_is_registered_with_its_library_pinned_and_loads_from_mlflow(
    registry_client: TestClient,
    mlflow_store: MlflowStore,
    data_root: Path,
    global_tracking_uri: None,
    algorithm: str,
) -> None:
    mixed_csv(data_root / "mixed.csv", rows=400)
    body = {
        "model_name": "mixed",
        "data_source_config": {
            "path": "mixed.csv",
            "target_column": "label",
            "feature_columns": FEATURES,
        },
        "algorithm_config": {"name": algorithm, "parameters": {"n_estimators": 30}},
    }
    response = registry_client.post("/v1/training-jobs", json=body)
    assert response.status_code == 202, response.text
    done = wait_for_job(registry_client, response.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done

    import mlflow.artifacts
    import mlflow.sklearn

    uri = done["registry"]["model_uri"]
    requirements = mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt")
    library = {"XGB": "xgboost", "LGB": "lightgbm", "Cat": "catboost"}[algorithm[:3]]
    assert library in Path(requirements).read_text()
    loaded = mlflow.sklearn.load_model(uri)  # skops, with the reviewed types only

    frame = pd.read_csv(data_root / "mixed.csv").head(10)
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in frame[FEATURES].to_dict(orient="records")
    ]
    served = registry_client.post(
        f"/v1/training-jobs/{done['job_id']}/predictions", json={"rows": rows}
    ).json()
    assert served["predictions"] == loaded.predict(frame[FEATURES]).tolist()
