"""Submit, status, list and errors through the real app on a real database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.config import Settings
from app.main import create_app
from app.trainer.artifacts import load_model
from tests.fixtures.jobs import job_request, wait_for_job


def submit(client: TestClient, **overrides: object) -> dict[str, object]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def test_iris_random_forest_completes_with_metrics_events_and_artifacts(
    client: TestClient, settings: Settings
) -> None:
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            model_name="iris",
            algorithm_config={
                "name": "RandomForestClassifier",
                "parameters": {"n_estimators": 100},
            },
            experiment_name="flowers",
            tags={"team": "research"},
        ),
    )
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == f"/v1/training-jobs/{body['job_id']}"
    assert body["status"] == "pending"
    assert body["stage"] == "queued"
    assert body["model_version"] == "1"

    done = wait_for_job(client, body["job_id"])
    assert done["status"] == "completed", done
    assert done["stage"] == "done"
    assert done["progress"] == 100
    assert done["metrics"]["validation_accuracy"] > 0.9
    assert {"validation_f1_macro", "validation_roc_auc", "train_accuracy"} <= set(done["metrics"])
    assert done["experiment_name"] == "flowers"
    assert done["tags"] == {"team": "research"}
    assert done["attempt"] == 1
    assert done["started_at"]
    assert done["completed_at"]
    assert done["data"]["rows"] == 150
    assert done["data"]["validation_rows"] == 30

    directory = Path(done["artifacts_location"])
    assert directory == (settings.artifact_root / body["job_id"]).resolve()
    for name in ("model.skops", "metrics.json", "spec.json", "lineage.json"):
        assert (directory / name).is_file()
    model = load_model(directory / "model.skops")
    assert list(
        model.predict(
            pd.DataFrame(
                [[5.1, 3.5, 1.4, 0.2]],
                columns=[
                    "sepal length (cm)",
                    "sepal width (cm)",
                    "petal length (cm)",
                    "petal width (cm)",
                ],
            )
        )
    ) == [0]

    events = client.get(f"/v1/training-jobs/{body['job_id']}/events").json()
    stages = [(e["status"], e["stage"]) for e in events]
    assert stages == [
        ("pending", "queued"),
        ("running", "fetching_data"),
        ("running", "preprocessing"),
        ("running", "training"),
        ("running", "evaluating"),
        ("running", "storing_artifacts"),
        ("completed", "done"),
    ]
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)


def test_reported_accuracy_equals_a_direct_scikit_learn_fit(client: TestClient) -> None:
    job = submit(
        client,
        model_name="cancer",
        data_source_config={"path": "sklearn://breast_cancer", "target_column": "target"},
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 1000}},
    )
    done = wait_for_job(client, str(job["job_id"]))
    assert done["status"] == "completed", done

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    direct = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    direct.fit(X_train, y_train)
    assert done["metrics"]["validation_accuracy"] == accuracy_score(y_val, direct.predict(X_val))


def test_csv_file_under_the_data_root(client: TestClient, data_root: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, -1]]
    frame.to_csv(data_root / "cancer.csv", index=False)
    job = submit(
        client,
        data_source_config={
            "path": "cancer.csv",
            "target_column": "target",
            "feature_columns": ["mean radius", "mean texture"],
        },
        algorithm_config={"name": "DecisionTreeClassifier", "parameters": {"max_depth": 3}},
    )
    done = wait_for_job(client, str(job["job_id"]))
    assert done["status"] == "completed", done
    assert done["data"]["format"] == "csv"
    assert done["data"]["columns"] == 3


def test_regression_job(client: TestClient) -> None:
    job = submit(
        client,
        data_source_config={"path": "sklearn://diabetes", "target_column": "target"},
        algorithm_config={"name": "Ridge", "parameters": {"alpha": 0.5}},
    )
    done = wait_for_job(client, str(job["job_id"]))
    assert done["status"] == "completed", done
    assert {"validation_rmse", "validation_mae", "validation_r2", "validation_mape"} <= set(
        done["metrics"]
    )
    assert done["metrics"]["validation_r2"] > 0.2


def test_model_version_counts_up_per_model_name(client: TestClient) -> None:
    first = submit(client, model_name="counted")
    second = submit(client, model_name="counted")
    pinned = submit(client, model_name="counted", model_version="2.0.0")
    assert (first["model_version"], second["model_version"]) == ("1", "2")
    assert pinned["model_version"] == "2.0.0"


def test_list_is_newest_first_with_filters_and_pagination(client: TestClient) -> None:
    ids = [
        submit(client, model_name=f"m{i % 2}", experiment_name="exp-a" if i < 2 else "exp-b")[
            "job_id"
        ]
        for i in range(4)
    ]
    page = client.get("/v1/training-jobs", params={"limit": 2, "include_total": True}).json()
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 0)
    assert [j["job_id"] for j in page["items"]] == [ids[3], ids[2]]
    rest = client.get("/v1/training-jobs", params={"limit": 2, "offset": 2}).json()
    assert [j["job_id"] for j in rest["items"]] == [ids[1], ids[0]]
    by_model = client.get("/v1/training-jobs", params={"model_name": "m0"}).json()
    assert {j["job_id"] for j in by_model["items"]} == {ids[0], ids[2]}
    by_experiment = client.get(
        "/v1/training-jobs", params={"experiment_name": "exp-b", "include_total": True}
    ).json()
    assert by_experiment["total"] == 2
    for job_id in ids:
        wait_for_job(client, job_id)
    completed = client.get(
        "/v1/training-jobs", params={"status": "completed", "include_total": True}
    ).json()
    assert completed["total"] == 4


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    return body


def _fields(body: dict[str, object]) -> set[str]:
    return {e["field"] for e in body["errors"]}  # type: ignore[attr-defined, index]


def test_unknown_job_is_a_404_problem(client: TestClient) -> None:
    missing = uuid.uuid4()
    body = _problem(client.get(f"/v1/training-jobs/{missing}"), 404)
    assert str(missing) in str(body["detail"])
    _problem(client.get(f"/v1/training-jobs/{missing}/events"), 404)


def test_malformed_id_is_a_422_naming_the_field(client: TestClient) -> None:
    body = _problem(client.get("/v1/training-jobs/not-a-uuid"), 422)
    assert _fields(body) == {"job_id"}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"algorithm_config": {"name": "RandomForestClassifer"}},
            "algorithm_config.name",
            "did you mean RandomForestClassifier",
        ),
        (
            {"algorithm_config": {"name": "RandomForestClassifier", "parameters": {"n_trees": 5}}},
            "algorithm_config.parameters.n_trees",
            "has no parameter 'n_trees'",
        ),
        (
            {
                "algorithm_config": {
                    "name": "RandomForestClassifier",
                    "parameters": {"n_estimators": -3},
                }
            },
            "algorithm_config.parameters.n_estimators",
            "must be an int in the range [1, inf)",
        ),
        (
            {"data_source_config": {"path": "sklearn://iris", "target_column": "species"}},
            "data_source_config.target_column",
            "column 'species' is not in sklearn://iris",
        ),
        (
            {"data_source_config": {"path": "nowhere.csv", "target_column": "y"}},
            "data_source_config.path",
            "no such file",
        ),
        (
            {"data_source_config": {"path": "../../etc/passwd", "target_column": "y"}},
            "data_source_config.path",
            "outside the data roots",
        ),
        (
            {"data_source_config": {"path": "/etc/passwd", "target_column": "y"}},
            "data_source_config.path",
            "outside the data roots",
        ),
        (
            {"data_source_config": {"path": "file:///etc/passwd", "target_column": "y"}},
            "data_source_config.path",
            "not allowed",
        ),
        (
            {"algorithm_config": {"name": "Ridge", "task": "classification"}},
            "algorithm_config.task",
            "is a regression model",
        ),
    ],
)
def test_bad_configuration_is_a_422_naming_the_field(
    client: TestClient, overrides: dict[str, object], field: str, words: str
) -> None:
    body = _problem(client.post("/v1/training-jobs", json=job_request(**overrides)), 422)
    assert field in _fields(body)
    assert words in str(body["detail"])
    assert client.get("/v1/training-jobs", params={"include_total": True}).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_name": "x"}, "data_source_config"),
        (job_request(model_name="bad name!"), "model_name"),
        (job_request(unknown_field=1), "unknown_field"),
        (
            job_request(resource_config={"max_runtime_seconds": 0}),
            "resource_config.max_runtime_seconds",
        ),
        (job_request(evaluation_config={"test_size": 1.5}), "evaluation_config.test_size"),
    ],
)
def test_schema_violations_are_a_422_naming_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    problem = _problem(client.post("/v1/training-jobs", json=body), 422)
    assert field in _fields(problem)


def test_list_parameters_are_checked(client: TestClient) -> None:
    assert "limit" in _fields(_problem(client.get("/v1/training-jobs?limit=0"), 422))
    assert "limit" in _fields(_problem(client.get("/v1/training-jobs?limit=1001"), 422))
    assert "status" in _fields(_problem(client.get("/v1/training-jobs?status=done"), 422))


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/v1/training-jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    _problem(response, 422)


def test_failed_job_says_why_and_in_which_stage(client: TestClient, data_root: Path) -> None:
    (data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    job = submit(
        client,
        data_source_config={"path": "one_class.csv", "target_column": "y"},
        algorithm_config={"name": "LogisticRegression"},
    )
    done = wait_for_job(client, str(job["job_id"]))
    assert done["status"] == "failed"
    assert done["error"]["stage"] == "preprocessing"
    assert "single class" in done["error"]["message"]
    assert "single class" in done["message"]
    assert done["attempt"] == 1  # a job's own error is not retried


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "executor": "ok", "artifacts": "ok"}


def test_readiness_fails_naming_an_unwritable_artifact_root_or_registry_store(
    settings: Settings, tmp_path: Path
) -> None:
    # A regular file where a folder should be: nobody, root included, can write below it.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cases = {
        "artifacts": {"artifact_root": blocker / "artifacts"},
        "registry": {
            "mlflow_tracking_uri": f"sqlite:///{blocker}/mlflow.db",
            "mlflow_artifact_root": tmp_path / "mlruns",
        },
    }
    for check, overrides in cases.items():
        broken = settings.model_copy(update=overrides)
        with TestClient(create_app(broken)) as client:
            ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks[check].startswith(f"error: {blocker}"), checks
        assert checks[check].endswith(("is not a folder", "is not writable (Not a directory)"))
        assert {k: v for k, v in checks.items() if k != check} == dict.fromkeys(
            set(checks) - {check}, "ok"
        )
