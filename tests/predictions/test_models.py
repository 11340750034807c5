"""Download a trained model and predict with it over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from app.config import Settings
from app.main import create_app
from app.predictions.cache import ModelCache, model_path
from app.trainer.artifacts import load_model
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job

IRIS_ROWS = [
    {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4,
     "petal width (cm)": 0.2},
    {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2,
     "petal width (cm)": 2.3},
]  # fmt: skip


def completed_job(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"])
    assert done["status"] == "completed", done
    return done


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_download_streams_the_pipeline_which_loads_safely(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    job = completed_job(client, model_name="iris-dl")
    response = client.get(f"/v1/training-jobs/{job['job_id']}/model")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert 'filename="iris-dl-1.skops"' in response.headers["content-disposition"]
    stored = model_path(settings.artifact_root, uuid.UUID(job["job_id"]))
    assert response.content == stored.read_bytes()

    downloaded = tmp_path / "downloaded.skops"
    downloaded.write_bytes(response.content)
    model = load_model(downloaded)  # refuses any type outside the reviewed list
    frame = pd.DataFrame.from_records(IRIS_ROWS)
    assert model.predict(frame).tolist() == [0, 2]


def test_classifier_predictions_with_class_probabilities(client: TestClient) -> None:
    job = completed_job(client)
    response = client.post(
        f"/v1/training-jobs/{job['job_id']}/predictions", json={"rows": IRIS_ROWS}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job_id"] == job["job_id"]
    assert (body["model_name"], body["model_version"], body["task"]) == (
        "iris-model",
        "1",
        "classification",
    )
    assert body["predictions"] == [0, 2]
    assert body["classes"] == [0, 1, 2]
    assert len(body["probabilities"]) == 2
    for row, predicted in zip(body["probabilities"], body["predictions"], strict=True):
        assert sum(row) == pytest.approx(1.0)
        assert body["classes"][int(np.argmax(row))] == predicted


def test_text_labels_and_text_features(client: TestClient, data_root: Path) -> None:
    frame = load_iris(as_frame=True).frame
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame.pop("target")]
    frame["size"] = np.where(frame["petal length (cm)"] > 4, "big", "small")
    frame.to_csv(data_root / "species.csv", index=False)
    job = completed_job(
        client,
        data_source_config={"path": "species.csv", "target_column": "species"},
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 500}},
    )
    rows = [{**IRIS_ROWS[0], "size": "small"}, {**IRIS_ROWS[1], "size": None}]
    body = client.post(f"/v1/training-jobs/{job['job_id']}/predictions", json={"rows": rows})
    assert body.status_code == 200, body.text
    assert body.json()["predictions"] == ["setosa", "virginica"]
    assert body.json()["classes"] == ["setosa", "versicolor", "virginica"]
    features = client.get(f"/v1/training-jobs/{job['job_id']}/model/features")
    assert features.status_code == 200, features.text
    assert features.json() == {
        "job_id": job["job_id"],
        "task": "classification",
        "feature_columns": [*IRIS_ROWS[0], "size"],
    }


def test_regressor_predictions_have_no_probabilities(client: TestClient) -> None:
    job = completed_job(
        client,
        data_source_config={"path": "sklearn://diabetes", "target_column": "target"},
        algorithm_config={"name": "Ridge", "parameters": {"alpha": 0.5}},
    )
    row = dict.fromkeys(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"], 0.01)
    response = client.post(
        f"/v1/training-jobs/{job['job_id']}/predictions", json={"rows": [row, {**row, "bmi": 0.1}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task"] == "regression"
    assert len(body["predictions"]) == 2
    assert body["predictions"][1] > body["predictions"][0]  # a higher BMI, a higher target
    assert body["classes"] is None
    assert body["probabilities"] is None


def test_missing_extra_and_non_numeric_columns_are_422s_naming_them(client: TestClient) -> None:
    job = completed_job(client)
    url = f"/v1/training-jobs/{job['job_id']}/predictions"
    missing = dict(IRIS_ROWS[0])
    del missing["petal width (cm)"]
    extra = {**IRIS_ROWS[1], "colour": "blue"}
    body = problem(client.post(url, json={"rows": [IRIS_ROWS[0], missing, extra]}), 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields == {
        "rows.1": "missing columns: petal width (cm)",
        "rows.2": "unexpected columns: colour",
    }
    assert "petal width (cm)" in body["detail"]
    assert "colour" in body["detail"]

    text = {**IRIS_ROWS[0], "sepal width (cm)": "wide"}
    body = problem(client.post(url, json={"rows": [text]}), 422)
    assert [e["field"] for e in body["errors"]] == ["rows.0.sepal width (cm)"]
    assert "'wide' is not a number" in body["detail"]

    body = problem(client.post(url, json={"rows": []}), 422)
    assert body["errors"][0]["field"] == "rows"
    body = problem(client.post(url, json={"records": IRIS_ROWS}), 422)
    assert {e["field"] for e in body["errors"]} == {"rows", "records"}


def test_too_many_rows_is_a_422(database_url: str, tmp_path: Path, data_root: Path) -> None:
    settings = make_settings(database_url, tmp_path, data_root, max_prediction_rows=2)
    with TestClient(create_app(settings)) as client:
        job = completed_job(client)
        response = client.post(
            f"/v1/training-jobs/{job['job_id']}/predictions", json={"rows": IRIS_ROWS * 2}
        )
    body = problem(response, 422)
    assert body["errors"] == [
        {"field": "rows", "message": "4 rows is over the limit of 2 per request"}
    ]


def test_a_job_that_has_not_completed_is_a_409(client: TestClient, data_root: Path) -> None:
    pd.DataFrame({"x": range(20), "label": ["same"] * 20}).to_csv(
        data_root / "one-class.csv", index=False
    )
    response = client.post(
        "/v1/training-jobs",
        json=job_request(data_source_config={"path": "one-class.csv", "target_column": "label"}),
    )
    failed = wait_for_job(client, response.json()["job_id"])
    assert failed["status"] == "failed"
    body = problem(client.get(f"/v1/training-jobs/{failed['job_id']}/model"), 409)
    assert "failed" in body["detail"]
    problem(
        client.post(f"/v1/training-jobs/{failed['job_id']}/predictions", json={"rows": IRIS_ROWS}),
        409,
    )
    problem(client.get(f"/v1/training-jobs/{failed['job_id']}/model/features"), 409)


def test_unknown_and_malformed_job_ids(client: TestClient) -> None:
    missing = uuid.uuid4()
    problem(client.get(f"/v1/training-jobs/{missing}/model"), 404)
    problem(client.get(f"/v1/training-jobs/{missing}/model/features"), 404)
    problem(client.post(f"/v1/training-jobs/{missing}/predictions", json={"rows": IRIS_ROWS}), 404)
    body = problem(client.get("/v1/training-jobs/not-a-uuid/model"), 422)
    assert body["errors"][0]["field"] == "job_id"


def test_loaded_models_are_cached_and_bounded(client: TestClient, settings: Settings) -> None:
    jobs = [completed_job(client, model_name=f"cached-{i}") for i in range(3)]
    cache = ModelCache(max_models=2, max_bytes=10**9)
    paths = [model_path(settings.artifact_root, uuid.UUID(j["job_id"])) for j in jobs]
    ids = [uuid.UUID(j["job_id"]) for j in jobs]
    first = cache.get(ids[0], paths[0])
    assert cache.get(ids[0], paths[0]) is first
    assert (cache.loads, cache.hits) == (1, 1)
    cache.get(ids[1], paths[1])
    cache.get(ids[2], paths[2])
    assert len(cache) == 2
    assert cache.get(ids[0], paths[0]) is not first  # evicted, loaded again
    assert cache.loads == 4

    by_bytes = ModelCache(max_models=10, max_bytes=paths[0].stat().st_size)
    for job_id, path in zip(ids, paths, strict=True):
        by_bytes.get(job_id, path)
    assert len(by_bytes) == 1  # the newest model stays even over the budget

    # The service's own cache serves repeated requests without reloading.
    service = client.app.state.service  # type: ignore[attr-defined]
    for _ in range(3):
        client.post(f"/v1/training-jobs/{jobs[0]['job_id']}/predictions", json={"rows": IRIS_ROWS})
    assert service.predictions.model_cache.loads == 1
    assert service.predictions.model_cache.hits == 2
