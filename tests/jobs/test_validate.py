"""POST /v1/training-jobs/validate: every submit check and a real read, no job, no training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from app.config import Settings
from tests.fixtures.jobs import job_request, wait_for_job


def test_dry_run_resolves_and_profiles_without_creating_a_job(
    client: TestClient, data_root: Path, settings: Settings
) -> None:
    frame = pd.DataFrame(
        {
            "size": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
            "color": ["red", "blue", None, "red", "red", "blue"] * 2,
            "day": pd.date_range("2024-01-01", periods=12).strftime("%Y-%m-%dT%H:%M:%S"),
            "label": ["a", "b", "a", None, "a", "b", "a", "b", "a", "a", "b", "a"],
        }
    )
    frame.to_csv(data_root / "d.csv", index=False)
    response = client.post(
        "/v1/training-jobs/validate",
        json=job_request(
            data_source_config={"path": "d.csv", "target_column": "label"},
            algorithm_config={"name": "LogisticRegression", "parameters": {"C": 0.5}},
        ),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valid"] is True
    resolved = report["resolved"]
    assert resolved["task"] == "classification"
    assert resolved["estimator_parameters"]["C"] == 0.5
    assert resolved["estimator_parameters"]["random_state"] == 0
    assert resolved["feature_columns"] == ["size", "color", "day"]
    assert resolved["column_kinds"] == {
        "numeric": ["size"],
        "categorical": ["color"],
        "datetime": ["day"],
    }
    assert resolved["preprocessing"]["scaled"] is True
    profile = report["profile"]
    assert (profile["rows"], profile["columns"]) == (12, 4)
    assert profile["rows_dropped_missing_target"] == 1
    assert profile["class_balance"] == {"a": 7, "b": 4}
    missing = {c["name"]: c["missing"] for c in profile["column_profiles"]}
    assert missing == {"size": 1, "color": 2, "day": 0, "label": 1}
    assert report["data"]["fingerprint"].startswith("xxh3_128:")
    assert "1 rows with a missing target would be dropped" in report["notes"]

    assert client.get("/v1/training-jobs", params={"include_total": True}).json()["total"] == 0
    assert not settings.artifact_root.exists() or not any(settings.artifact_root.iterdir())


def test_dry_run_of_a_regression(client: TestClient) -> None:
    response = client.post(
        "/v1/training-jobs/validate",
        json=job_request(
            data_source_config={"path": "sklearn://diabetes", "target_column": "target"},
            algorithm_config={"name": "Ridge"},
        ),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["resolved"]["task"] == "regression"
    assert report["profile"]["class_balance"] is None
    assert report["profile"]["target_summary"]["min"] == 25.0


def test_dry_run_reports_the_problems_a_job_would_fail_on(
    client: TestClient, data_root: Path
) -> None:
    (data_root / "one.csv").write_text("a,y\n" + "1,k\n" * 10)
    one_class = client.post(
        "/v1/training-jobs/validate",
        json=job_request(
            data_source_config={"path": "one.csv", "target_column": "y"},
            algorithm_config={"name": "LogisticRegression"},
        ),
    )
    assert one_class.status_code == 422
    assert "single class" in one_class.json()["detail"]
    assert one_class.json()["errors"][0]["field"] == "data_source_config"

    (data_root / "text.csv").write_text("a,y\n" + "".join(f"{i},v{i}\n" for i in range(10)))
    regressor = client.post(
        "/v1/training-jobs/validate",
        json=job_request(
            data_source_config={"path": "text.csv", "target_column": "y"},
            algorithm_config={"name": "Ridge"},
        ),
    )
    assert regressor.status_code == 422
    assert "is not numeric" in regressor.json()["detail"]

    bad = client.post(
        "/v1/training-jobs/validate",
        json=job_request(
            data_source_config={"path": "memory://x", "target_column": "y"},
            algorithm_config={"name": "Ridge", "parameters": {"alpha": -1}},
        ),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"data_source_config.path", "algorithm_config.parameters.alpha"}
    assert client.get("/v1/training-jobs", params={"include_total": True}).json()["total"] == 0


def test_validate_does_not_collide_with_job_routes(client: TestClient) -> None:
    assert client.get("/v1/training-jobs/validate").status_code == 422  # not a job id
    cancel = client.post("/v1/training-jobs/validate/cancel")
    assert cancel.status_code == 422


def test_dry_run_estimates_a_search_from_timed_fits(client: TestClient) -> None:
    request = job_request(
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 50}},
        hyperparameter_tuning_config={
            "strategy": "random",
            "search_space": {"max_depth": [3, 5, 8]},
            "max_trials": 4,
            "cv_folds": 3,
            "parallel_trials": 2,
        },
    )
    response = client.post("/v1/training-jobs/validate", json=request)
    assert response.status_code == 200, response.text
    estimate = response.json()["estimate"]
    assert estimate["trials"] == 4
    assert estimate["parallel_trials"] >= 1
    assert estimate["fit_seconds"] > 0
    assert estimate["peak_memory_mb"] > 0
    # The final model's evaluation: its report's importance at least predicts the holdout.
    assert estimate["evaluation_seconds"] > 0
    assert estimate["total_seconds"] >= estimate["fit_seconds"] + estimate["evaluation_seconds"]
    # Four trials of three folds cannot take less than one fit.
    assert estimate["total_seconds"] >= estimate["fit_seconds"]
    assert "timed fits on" in estimate["basis"]


def test_a_single_fit_on_few_rows_stores_no_estimate_but_its_dry_run_has_one(
    client: TestClient,
) -> None:
    assert client.post("/v1/training-jobs/validate", json=job_request()).json()["estimate"]
    job = client.post("/v1/training-jobs", json=job_request()).json()
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "completed"
    assert done["estimate"] is None
