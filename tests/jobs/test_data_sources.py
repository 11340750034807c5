"""Data sources, preprocessing and data checks end to end: real app, real jobs, real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.trainer.artifacts import load_model
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job


def mixed_frame(rows: int = 300) -> pd.DataFrame:
    """Strings, booleans, dates and missing values (numeric and categorical), with signal."""
    rng = np.random.default_rng(7)
    city = rng.choice(["paris", "lyon", "nice"], size=rows)
    member = rng.choice([True, False], size=rows)
    age = rng.integers(18, 80, size=rows).astype(float)
    income = rng.normal(50, 15, size=rows)
    score = (city == "paris") * 1.5 + member * 1.0 + (age > 50) * 1.0 + rng.normal(0, 0.5, rows)
    frame = pd.DataFrame(
        {
            "age": age,
            "income": income,
            "city": city,
            "member": member,
            "signup": pd.date_range("2023-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "label": np.where(score > 1.5, "yes", "no"),
        }
    )
    frame.loc[::7, "age"] = np.nan
    frame.loc[::11, "income"] = np.nan
    frame.loc[::5, "city"] = None
    return frame


def submit(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "algorithm",
    [
        {"name": "RandomForestClassifier", "parameters": {"n_estimators": 30}},
        {"name": "LogisticRegression", "parameters": {"max_iter": 500}},
    ],
)
def test_mixed_csv_trains_and_the_saved_pipeline_takes_raw_rows(
    client: TestClient, data_root: Path, settings: Settings, algorithm: dict[str, Any]
) -> None:
    mixed_frame().to_csv(data_root / "customers.csv", index=False)
    job = submit(
        client,
        data_source_config={"path": "customers.csv", "target_column": "label"},
        algorithm_config=algorithm,
    )
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["metrics"]["validation_accuracy"] > 0.7
    assert done["data"]["fingerprint"].startswith("xxh3_128:")
    assert (done["data"]["rows"], done["data"]["columns"]) == (300, 6)

    model = load_model(settings.artifact_root.resolve() / job["job_id"] / "model.skops")
    raw = pd.DataFrame(
        [
            {"age": 30, "income": None, "city": "atlantis", "member": True, "signup": "2024-05-01"},
            {"age": None, "income": 40.0, "city": None, "member": False, "signup": "2023-02-03"},
            {"age": 60, "income": 70.0, "city": "paris", "member": True, "signup": None},
        ]
    )
    assert set(model.predict(raw)) <= {"yes", "no"}
    assert model.predict_proba(raw).shape == (3, 2)
    # The date column was expanded, not one-hot encoded as text.
    names = list(model.named_steps["preprocess"].get_feature_names_out())
    assert "signup_year" in names
    assert not any(n.startswith("signup_2023") for n in names)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../../etc/passwd", "outside the data roots"),
        ("/etc/passwd", "outside the data roots"),
        ("link-out.csv", "outside the data roots"),
        ("file:///etc/passwd", "the scheme 'file' is not allowed"),
        ("http://169.254.169.254/latest/meta-data/iam", "not allowed"),
        ("memory://x", "the scheme 'memory' is not allowed"),
        ("simplecache::s3://bucket/data.csv", "chained URLs"),
    ],
)
def test_refused_sources_are_a_422_naming_the_rule(
    client: TestClient, data_root: Path, tmp_path: Path, path: str, words: str
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a,y\n1,0\n")
    (data_root / "link-out.csv").symlink_to(outside)
    body = problem(
        client.post(
            "/v1/training-jobs",
            json=job_request(data_source_config={"path": path, "target_column": "y"}),
        ),
        422,
    )
    assert words in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"data_source_config.path"}
    assert client.get("/v1/training-jobs", params={"include_total": True}).json()["total"] == 0


@pytest.mark.parametrize(
    ("content", "config", "algorithm", "words"),
    [
        ("a,b,a,y\n1,2,3,0\n", {}, "LogisticRegression", "duplicate column names: a"),
        (
            "a,b,y\n1,2,0\n",
            {"feature_columns": ["a", "nope", "gone"]},
            "LogisticRegression",
            "column 'nope' is not in",
        ),
        ("", {}, "LogisticRegression", "is empty"),
    ],
)
def test_data_problems_found_at_submit(
    client: TestClient,
    data_root: Path,
    content: str,
    config: dict[str, Any],
    algorithm: str,
    words: str,
) -> None:
    (data_root / "d.csv").write_text(content)
    body = problem(
        client.post(
            "/v1/training-jobs",
            json=job_request(
                data_source_config={"path": "d.csv", "target_column": "y", **config},
                algorithm_config={"name": algorithm},
            ),
        ),
        422,
    )
    assert words in body["detail"]
    if "nope" in words:
        assert "'gone' is not in" in body["detail"]


@pytest.mark.parametrize(
    ("name", "content", "algorithm", "words"),
    [
        ("header.csv", b"a,b,y\n", "LogisticRegression", "header.csv holds no rows"),
        (
            "one.csv",
            b"a,y\n" + b"1,k\n2,k\n3,k\n4,k\n5,k\n6,k\n",
            "LogisticRegression",
            "single class",
        ),
        (
            "text.csv",
            b"a,y\n" + b"".join(f"{i},v{i % 3}\n".encode() for i in range(30)),
            "Ridge",
            "target column 'y' is not numeric",
        ),
        (
            "fake.parquet",
            b"a,y\n1,2\n",
            "LogisticRegression",
            "fake.parquet is not a parquet file",
        ),
    ],
)
def test_data_problems_fail_the_job_or_the_submit_naming_the_file_or_column(
    client: TestClient, data_root: Path, name: str, content: bytes, algorithm: str, words: str
) -> None:
    (data_root / name).write_bytes(content)
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": name, "target_column": "y"},
            algorithm_config={"name": algorithm},
        ),
    )
    if response.status_code == 422:
        assert words in response.json()["detail"]
        return
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"])
    assert done["status"] == "failed"
    assert words in done["error"]["message"]
    assert done["error"]["type"] == "DataAccessError"


def test_rows_with_a_missing_target_are_dropped_and_counted(
    client: TestClient, data_root: Path
) -> None:
    frame = mixed_frame(200)
    frame.loc[::10, "label"] = None
    frame.to_csv(data_root / "holes.csv", index=False)
    job = submit(
        client,
        data_source_config={"path": "holes.csv", "target_column": "label"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 10}},
    )
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["metrics"]["rows_dropped_missing_target"] == 20
    assert "20 rows with a missing target were dropped" in done["message"]
    assert done["data"]["dropped_missing_target"] == 20


def test_preprocessing_section_is_honoured(
    client: TestClient, data_root: Path, settings: Settings
) -> None:
    mixed_frame().to_csv(data_root / "customers.csv", index=False)
    job = submit(
        client,
        data_source_config={"path": "customers.csv", "target_column": "label"},
        algorithm_config={"name": "LogisticRegression", "parameters": {"max_iter": 500}},
        preprocessing={
            "scaler": "minmax",
            "numeric_imputation": "mean",
            "categorical_imputation": "constant",
            "encoder": "ordinal",
        },
    )
    done = wait_for_job(client, job["job_id"])
    assert done["status"] == "completed", done
    model = load_model(settings.artifact_root.resolve() / job["job_id"] / "model.skops")
    numeric = model.named_steps["preprocess"].named_transformers_["numeric"]
    assert type(numeric.named_steps["scale"]).__name__ == "MinMaxScaler"
    assert numeric.named_steps["impute"].strategy == "mean"
    categorical = model.named_steps["preprocess"].named_transformers_["categorical"]
    assert type(categorical.named_steps["encode"]).__name__ == "OrdinalEncoder"

    off = submit(
        client,
        data_source_config={"path": "customers.csv", "target_column": "label"},
        algorithm_config={"name": "LogisticRegression"},
        preprocessing={"enabled": False},
    )
    failed = wait_for_job(client, off["job_id"])
    assert failed["status"] == "failed"
    assert "preprocessing is disabled" in failed["error"]["message"]
    assert "city" in failed["error"]["message"]

    body = problem(
        client.post(
            "/v1/training-jobs",
            json=job_request(preprocessing={"scaler": "log", "max_categories": 1}),
        ),
        422,
    )
    assert {e["field"] for e in body["errors"]} == {
        "preprocessing.scaler",
        "preprocessing.max_categories",
    }


@pytest.fixture
def custom_client(database_url: str, tmp_path: Path, data_root: Path) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        data_layer_client="tests.integrations.data_layer.custom_client:build",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_client_named_in_settings_is_built_by_the_worker_too(
    custom_client: TestClient,
) -> None:
    job = submit(
        custom_client,
        data_source_config={"path": "moons://200", "target_column": "label"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 10}},
    )
    done = wait_for_job(custom_client, job["job_id"])
    assert done["status"] == "completed", done
    assert done["data"]["format"] == "generated"
    assert done["data"]["rows"] == 200


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A plain HTTP file server on 127.0.0.1 (listed with http:// in the settings)."""
    import functools
    import http.server
    import threading

    from tests.integrations.data_layer.test_data_layer import _Handler

    directory = tmp_path / "web"
    directory.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield directory, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_job_reads_from_a_listed_http_host(
    database_url: str, tmp_path: Path, data_root: Path, web_server: tuple[Path, int]
) -> None:
    directory, port = web_server
    mixed_frame().to_csv(directory / "customers.csv", index=False)
    settings = make_settings(
        database_url, tmp_path, data_root, data_allowed_hosts=[f"http://127.0.0.1:{port}"]
    )
    with TestClient(create_app(settings)) as client:
        url = f"http://127.0.0.1:{port}/customers.csv"
        job = submit(
            client,
            data_source_config={
                "path": url,
                "target_column": "label",
                "feature_columns": ["age", "city", "member"],
            },
            algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 10}},
        )
        done = wait_for_job(client, job["job_id"])
        assert done["status"] == "completed", done
        assert done["data"]["location"] == url
        assert (done["data"]["rows"], done["data"]["columns"]) == (300, 4)
        missing = submit(
            client,
            data_source_config={"path": f"http://127.0.0.1:{port}/nope.csv", "target_column": "y"},
        )
        failed = wait_for_job(client, missing["job_id"])
        assert failed["status"] == "failed"
        assert "answered 404" in failed["error"]["message"]
        other_port = client.post(
            "/v1/training-jobs",
            json=job_request(
                data_source_config={
                    "path": f"http://127.0.0.1:{port + 1}/x.csv",
                    "target_column": "y",
                }
            ),
        )
        assert other_port.status_code == 422
        assert "is not allowed" in other_port.json()["detail"]
