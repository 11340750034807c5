"""GET /v1/algorithms: every allowed estimator with its parameters, on the real app."""

from __future__ import annotations

import json
import math

from fastapi.testclient import TestClient
from sklearn.ensemble import RandomForestClassifier

from app.trainer.algorithms import registry
from app.trainer.catalog import json_safe


def test_algorithms_lists_every_allowed_estimator_with_parameters(client: TestClient) -> None:
    body = client.get("/v1/algorithms").json()
    names = [item["name"] for item in body["items"]]
    assert names == sorted(registry())
    assert body["total"] == len(names)
    forest = next(i for i in body["items"] if i["name"] == "RandomForestClassifier")
    assert forest["framework"] == "scikit-learn"
    assert forest["task"] == "classification"
    assert forest["module"].startswith("sklearn.ensemble")
    params = {p["name"]: p for p in forest["parameters"]}
    assert set(params) == set(RandomForestClassifier().get_params(deep=False))
    assert params["n_estimators"]["default"] == 100
    assert params["n_estimators"]["types"] == ["integer"]
    assert params["n_estimators"]["constraints"] == ["an int in the range [1, inf)"]
    assert params["criterion"]["options"] == ["entropy", "gini", "log_loss"]
    assert params["max_depth"]["types"] == ["integer", "null"]
    assert params["bootstrap"]["types"] == ["boolean"]
    assert "null" in params["random_state"]["types"]


def test_algorithms_filter_by_task_and_describe_one(client: TestClient) -> None:
    regressors = client.get("/v1/algorithms", params={"task": "regression"}).json()["items"]
    assert regressors
    assert {i["task"] for i in regressors} == {"regression"}
    assert "Ridge" in {i["name"] for i in regressors}
    one = client.get("/v1/algorithms/LogisticRegression")
    assert one.status_code == 200
    assert {p["name"] for p in one.json()["parameters"]} >= {"C", "penalty", "max_iter"}


def test_unknown_algorithm_is_a_404_problem_with_a_hint(client: TestClient) -> None:
    response = client.get("/v1/algorithms/RandomForest")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "RandomForestClassifier" in response.json()["detail"]
    bad_task = client.get("/v1/algorithms", params={"task": "clustering"})
    assert bad_task.status_code == 422
    assert bad_task.json()["errors"][0]["field"] == "task"


def test_every_default_is_json_safe() -> None:
    assert json_safe(float("nan")) == "nan"
    assert json_safe(float("-inf")) == "-inf"
    assert json_safe((1, 2.5)) == [1, 2.5]
    assert json_safe(dict) == "dict"
    from app.trainer.catalog import catalog

    text = json.dumps(catalog(), allow_nan=False)  # raises on NaN or an unknown type
    assert "HistGradientBoostingClassifier" in text
    for item in catalog():
        for parameter in item["parameters"]:
            default = parameter["default"]
            assert not (isinstance(default, float) and not math.isfinite(default))
