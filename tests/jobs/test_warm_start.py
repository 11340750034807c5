"""Warm starts: a search seeded with an earlier job's finished trials, and the 422s when the
earlier job does not fit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.jobs import job_request, wait_for_job


def search(seed: int, **tuning: Any) -> dict[str, Any]:
    return job_request(
        data_source_config={"path": "sklearn://breast_cancer", "target_column": "target"},
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 500}},
        hyperparameter_tuning_config={
            "strategy": "random",
            "search_space": {"C": {"type": "float", "low": 0.001, "high": 10, "log": True}},
            "max_trials": 4,
            "cv_folds": 3,
            "random_state": seed,
            **tuning,
        },
    )


def run(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=body)
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done
    return done


def test_a_warm_start_imports_the_trials_and_the_best_is_at_least_the_old_best(
    client: TestClient,
) -> None:
    old = run(client, search(1))
    old_trials = client.get(f"/v1/training-jobs/{old['job_id']}/trials").json()
    new = run(client, search(2, warm_start_from=[old["job_id"]]))
    trials = client.get(f"/v1/training-jobs/{new['job_id']}/trials").json()
    imported = [t for t in trials if t["source"] == "warm_start"]
    own = [t for t in trials if t["source"] == "search"]
    assert len(imported) == len(old_trials) == 4
    assert len(own) == 4  # imported trials do not count toward max_trials
    assert sorted(t["params"]["C"] for t in imported) == sorted(
        t["params"]["C"] for t in old_trials
    )
    assert all(t["number"] < 0 for t in imported)
    assert new["metrics"]["cv_best_score"] >= old["metrics"]["cv_best_score"]
    best = max(trials, key=lambda t: t["mean_score"])
    assert new["best_hyperparameters"] == best["params"]


def test_a_warm_start_from_a_job_that_does_not_fit_is_a_422_naming_it(
    client: TestClient,
) -> None:
    old = run(client, search(1))
    field = "hyperparameter_tuning_config.warm_start_from[0]"
    other_space = search(2, warm_start_from=[old["job_id"]])
    other_space["hyperparameter_tuning_config"]["search_space"] = {"tol": [0.001, 0.01]}
    other_data = search(2, warm_start_from=[old["job_id"]])
    other_data["data_source_config"] = {"path": "sklearn://iris", "target_column": "target"}
    unknown = search(2, warm_start_from=[str(uuid.uuid4())])
    for body, words in (
        (other_space, "searched"),
        (other_data, "other data"),
        (unknown, "no training job"),
    ):
        response = client.post("/v1/training-jobs", json=body)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert words in problem["errors"][0]["message"], problem
