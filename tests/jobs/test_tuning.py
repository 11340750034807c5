"""Hyperparameter search through the API: trials recorded, the best configuration refitted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from tests.fixtures.jobs import job_request, wait_for_job


def test_grid_over_svc_records_six_trials_and_refits_the_best(client: TestClient) -> None:
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": "sklearn://breast_cancer", "target_column": "target"},
            algorithm_config={"name": "SVC"},
            hyperparameter_tuning_config={
                "strategy": "grid",
                "search_space": {"C": [0.1, 1, 10], "kernel": ["linear", "rbf"]},
                "cv_folds": 3,
            },
        ),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    done = wait_for_job(client, job_id, timeout=120)
    assert done["status"] == "completed", done

    trials = client.get(f"/v1/training-jobs/{job_id}/trials").json()
    assert len(trials) == 6
    assert {t["state"] for t in trials} == {"complete"}
    assert all(len(t["fold_scores"]) == 3 for t in trials)
    best = max(trials, key=lambda t: t["mean_score"])
    assert done["best_hyperparameters"] == best["params"]
    assert done["metrics"]["cv_best_score"] == pytest.approx(best["mean_score"])
    # A search stores the estimate its attempt made once its units existed, and the actual
    # beside it.
    estimate = done["estimate"]
    assert estimate["trials"] == 6
    assert estimate["total_seconds"] > 0
    assert estimate["fit_seconds"] > 0
    assert estimate["evaluation_seconds"] > 0
    assert estimate["actual"]["total_seconds"] > 0

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    refit = make_pipeline(StandardScaler(), SVC(**best["params"], random_state=0))
    refit.fit(X_train, y_train)
    assert done["metrics"]["validation_accuracy"] == accuracy_score(y_val, refit.predict(X_val))


@pytest.mark.parametrize("strategy", ["random", "halving"])
def test_random_and_halving_on_a_regression_dataset(client: TestClient, strategy: str) -> None:
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": "sklearn://diabetes", "target_column": "target"},
            algorithm_config={"name": "Ridge"},
            hyperparameter_tuning_config={
                "strategy": strategy,
                "search_space": {
                    "alpha": {"type": "float", "low": 0.001, "high": 100, "log": True}
                },
                "objective_metric": "neg_root_mean_squared_error",
                "max_trials": 9,
                "cv_folds": 3,
            },
        ),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    done = wait_for_job(client, job_id, timeout=120)
    assert done["status"] == "completed", done
    trials = client.get(f"/v1/training-jobs/{job_id}/trials").json()
    assert len(trials) >= 9
    assert done["metrics"]["cv_best_score"] < 0  # a negated RMSE
    assert "alpha" in done["best_hyperparameters"]
    if strategy == "halving":
        assert len({t["resource"] for t in trials}) > 1  # rounds on growing subsets


def test_bayesian_with_pruning(client: TestClient) -> None:
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": "sklearn://breast_cancer", "target_column": "target"},
            algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 10}},
            hyperparameter_tuning_config={
                "strategy": "bayesian",
                "search_space": {
                    "n_estimators": {"type": "int", "low": 5, "high": 40},
                    "max_depth": {"type": "int", "low": 1, "high": 8},
                    "min_samples_leaf": {"type": "int", "low": 1, "high": 20},
                },
                "max_trials": 15,
                "cv_folds": 3,
                "early_stopping": True,
            },
        ),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    seen_before_end = 0
    while True:
        status = client.get(f"/v1/training-jobs/{job_id}").json()
        trials = client.get(f"/v1/training-jobs/{job_id}/trials").json()
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        seen_before_end = max(seen_before_end, len(trials))
    assert status["status"] == "completed", status
    assert len(trials) == 15
    assert seen_before_end > 0
    assert {t["state"] for t in trials} <= {"complete", "pruned"}
    assert any(t["state"] == "pruned" for t in trials)


@pytest.mark.parametrize(
    ("tuning", "field", "words"),
    [
        (
            {"strategy": "grid", "search_space": {"gamma_x": [1, 2]}},
            "hyperparameter_tuning_config.search_space.gamma_x",
            "has no parameter",
        ),
        (
            {"strategy": "grid", "search_space": {"C": [-1, 1]}},
            "hyperparameter_tuning_config.search_space.C",
            "must be a float in the range (0.0, inf]",
        ),
        (
            {"strategy": "grid", "search_space": {"C": {"type": "float", "low": 0.1, "high": 1}}},
            "hyperparameter_tuning_config.search_space.C",
            "needs a list of values",
        ),
        (
            {
                "strategy": "grid",
                "search_space": {"C": list(range(1, 101)), "tol": [0.1 * i for i in range(1, 11)]},
                "cv_folds": 5,
            },
            "hyperparameter_tuning_config.search_space",
            "1000 candidates x 5 folds = 5000 fits",
        ),
        (
            {"search_space": {"C": [1, 2]}, "objective_metric": "accuracyy"},
            "hyperparameter_tuning_config.objective_metric",
            "unknown scorer",
        ),
    ],
)
def test_bad_search_is_a_422(
    client: TestClient, tuning: dict[str, object], field: str, words: str
) -> None:
    response = client.post(
        "/v1/training-jobs",
        json=job_request(algorithm_config={"name": "SVC"}, hyperparameter_tuning_config=tuning),
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in {e["field"] for e in body["errors"]}
    assert words in body["detail"]


def test_a_failing_trial_does_not_fail_the_job_unless_all_do(client: TestClient) -> None:
    # Each value passes scikit-learn's parameter checks; l1 only fails when lbfgs fits it.
    mixed = client.post(
        "/v1/training-jobs",
        json=job_request(
            algorithm_config={"name": "LogisticRegression", "parameters": {"solver": "lbfgs"}},
            hyperparameter_tuning_config={
                "strategy": "grid",
                "search_space": {"l1_ratio": [0.0, 1.0]},
            },
        ),
    ).json()
    done = wait_for_job(client, mixed["job_id"], timeout=120)
    assert done["status"] == "completed", done
    trials = client.get(f"/v1/training-jobs/{mixed['job_id']}/trials").json()
    assert sorted(t["state"] for t in trials) == ["complete", "failed"]
    failed = next(t for t in trials if t["state"] == "failed")
    assert failed["error"]
    assert done["best_hyperparameters"] == {"l1_ratio": 0.0}

    all_bad = client.post(
        "/v1/training-jobs",
        json=job_request(
            algorithm_config={"name": "LogisticRegression", "parameters": {"solver": "lbfgs"}},
            hyperparameter_tuning_config={"strategy": "grid", "search_space": {"l1_ratio": [1.0]}},
        ),
    ).json()
    failed_job = wait_for_job(client, all_bad["job_id"], timeout=120)
    assert failed_job["status"] == "failed"
    assert "all 1 trials of the search failed" in failed_job["error"]["message"]


def test_the_search_timeout_keeps_the_best_so_far(client: TestClient) -> None:
    job = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": "sklearn://digits", "target_column": "target"},
            algorithm_config={"name": "RandomForestClassifier"},
            hyperparameter_tuning_config={
                "strategy": "random",
                "search_space": {"n_estimators": {"type": "int", "low": 200, "high": 400}},
                "max_trials": 200,
                "timeout_seconds": 3,
            },
        ),
    ).json()
    done = wait_for_job(client, job["job_id"], timeout=120)
    assert done["status"] == "completed", done
    trials = client.get(f"/v1/training-jobs/{job['job_id']}/trials").json()
    assert 1 <= len(trials) < 200
    assert "stopped at timeout_seconds=3" in done["message"]
    assert (
        done["best_hyperparameters"]["n_estimators"]
        == max(trials, key=lambda t: t["mean_score"])["params"]["n_estimators"]
    )
