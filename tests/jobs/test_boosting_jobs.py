"""Boosting libraries and in-fit progress through the HTTP API, as a client sees them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.base import clone
from sklearn.datasets import make_classification

from app.trainer import TrainingSpec
from app.trainer.artifacts import TRUSTED_BOOSTING_TYPES, load_model
from app.trainer.core import split
from tests.fixtures.jobs import wait_for_job
from tests.trainer.test_boosting import FEATURES, mixed_csv


def submit(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post("/v1/training-jobs", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def boosting_job(algorithm: str, target: str, **parameters: Any) -> dict[str, Any]:
    return {
        "model_name": f"{algorithm.lower()}-mixed",
        "data_source_config": {
            "path": "mixed.csv",
            "target_column": target,
            "feature_columns": FEATURES,
        },
        "algorithm_config": {"name": algorithm, "parameters": parameters},
        "resource_config": {"n_jobs": 2},
    }


def test_algorithms_lists_the_boosting_libraries(client: TestClient) -> None:
    body = client.get("/v1/algorithms").json()
    items = body["items"] if isinstance(body, dict) else body
    frameworks = {item["name"]: item["framework"] for item in items}
    assert frameworks["XGBClassifier"] == "xgboost"
    assert frameworks["LGBMRegressor"] == "lightgbm"
    assert frameworks["CatBoostClassifier"] == "catboost"


@pytest.mark.parametrize(
    ("algorithm", "parameters", "field"),
    [
        ("XGBClassifier", {"max_depth": "deep"}, "max_depth"),
        ("LGBMClassifier", {"num_leafs": 8}, "num_leafs"),
        ("CatBoostClassifier", {"depth": 40}, "depth"),
    ],
)
def test_bad_boosting_parameters_are_a_422_naming_the_parameter(
    client: TestClient, data_root: Path, algorithm: str, parameters: dict[str, Any], field: str
) -> None:
    mixed_csv(data_root / "mixed.csv", rows=100)
    response = client.post("/v1/training-jobs", json=boosting_job(algorithm, "label", **parameters))
    assert response.status_code == 422, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    assert f"algorithm_config.parameters.{field}" in fields


@pytest.mark.parametrize(
    ("algorithm", "target", "parameters"),
    [
        ("XGBClassifier", "label", {"n_estimators": 60, "early_stopping_rounds": 10}),
        ("LGBMRegressor", "price", {"n_estimators": 60}),
        ("CatBoostClassifier", "label", {"iterations": 60}),
    ],
)
def test_a_boosting_job_downloads_loads_safely_and_predicts_like_the_service(
    client: TestClient,
    data_root: Path,
    tmp_path: Path,
    algorithm: str,
    target: str,
    parameters: dict[str, Any],
) -> None:
    mixed_csv(data_root / "mixed.csv", rows=600)
    job_id = submit(client, boosting_job(algorithm, target, **parameters))
    done = wait_for_job(client, job_id, timeout=120)
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert done["eta_seconds"] is None
    if "early_stopping_rounds" in parameters:
        assert 1 <= done["metrics"]["best_iteration"] <= 60

    downloaded = tmp_path / "model.skops"
    downloaded.write_bytes(client.get(f"/v1/training-jobs/{job_id}/model").content)
    needed = sio.get_untrusted_types(file=downloaded)
    reviewed = [t for t in needed if not t.startswith(("sklearn.", "numpy.", "app.trainer."))]
    assert set(reviewed) <= TRUSTED_BOOSTING_TYPES
    model = load_model(downloaded)

    frame = pd.read_csv(data_root / "mixed.csv").head(25)
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in frame[FEATURES].to_dict(orient="records")
    ]
    served = client.post(f"/v1/training-jobs/{job_id}/predictions", json={"rows": rows}).json()
    local = model.predict(frame[FEATURES]).tolist()
    if target == "price":
        assert np.allclose(served["predictions"], local)
    else:
        assert served["predictions"] == local
        assert np.allclose(served["probabilities"], model.predict_proba(frame[FEATURES]))


@pytest.mark.slow
def test_a_forest_of_300_trees_on_50k_rows_reports_progress_and_a_falling_eta(
    client: TestClient, data_root: Path, tmp_path: Path
) -> None:
    X, y = make_classification(50_000, 8, n_informative=5, random_state=2)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]).assign(y=y)
    frame.to_csv(data_root / "big.csv", index=False)
    parameters = {"n_estimators": 300, "max_depth": 4}
    job_id = submit(
        client,
        {
            "model_name": "big-forest",
            "data_source_config": {"path": "big.csv", "target_column": "y"},
            "algorithm_config": {"name": "RandomForestClassifier", "parameters": parameters},
            "resource_config": {"n_jobs": 2},
        },
    )
    seen: list[tuple[float, float | None]] = []
    while True:
        body = client.get(f"/v1/training-jobs/{job_id}").json()
        if body["stage"] == "training":
            seen.append((body["progress"], body["eta_seconds"]))
        if body["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert body["status"] == "completed", body
    assert body["progress"] == 100

    progress = [p for p, _ in seen]
    assert progress == sorted(progress)
    assert len(set(progress)) >= 10
    etas = [e for _, e in seen if e is not None]
    assert len(set(etas)) >= 5
    assert etas[-1] < etas[0]

    downloaded = tmp_path / "forest.skops"
    downloaded.write_bytes(client.get(f"/v1/training-jobs/{job_id}/model").content)
    served = load_model(downloaded)
    spec = TrainingSpec(algorithm="RandomForestClassifier", target_column="y")
    X_train, _, y_train, _, _ = split(frame.drop(columns="y"), frame["y"], spec, "classification")
    once = clone(served).fit(X_train, y_train)  # all 300 trees in one call, the same seed
    sample = frame.drop(columns="y").head(2000)
    assert np.array_equal(once.predict(sample), served.predict(sample))
    # Tree by tree the same splits; the averaged probabilities differ only in the order in
    # which two threads add them up.
    pairs = zip(once[-1].estimators_, served[-1].estimators_, strict=True)
    assert all(np.array_equal(a.tree_.threshold, b.tree_.threshold) for a, b in pairs)
    assert np.allclose(once.predict_proba(sample), served.predict_proba(sample), rtol=0, atol=1e-12)
