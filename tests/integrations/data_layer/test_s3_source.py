"""s3:// against a real S3-compatible server (moto's server mode) on a loopback port."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_wine

from app.main import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job
from tests.fixtures.network import free_port

pytest.importorskip("s3fs", reason="s3:// needs the s3 extra (s3fs)")
moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (a dev dependency)")

BUCKET = "training-data"
CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    buffer = io.BytesIO()
    load_wine(as_frame=True).frame.to_parquet(buffer)
    s3.put_object(Bucket=BUCKET, Key="wine/wine.parquet", Body=buffer.getvalue())
    s3.put_object(Bucket=BUCKET, Key="wine/not-parquet.parquet", Body=b"a,b\n1,2\n")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_client(
    database_url: str, tmp_path: Path, data_root: Path, s3_endpoint: str
) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_allowed_buckets=[BUCKET],
        **CREDENTIALS,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def submit(client: TestClient, path: str, **config: Any) -> Any:
    return client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": path, "target_column": "target", **config},
            algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 20}},
        ),
    )


def test_parquet_on_s3_trains(s3_client: TestClient) -> None:
    response = submit(
        s3_client,
        f"s3://{BUCKET}/wine/wine.parquet",
        feature_columns=["alcohol", "malic_acid", "color_intensity", "proline"],
    )
    assert response.status_code == 202, response.text
    done = wait_for_job(s3_client, response.json()["job_id"])
    assert done["status"] == "completed", done
    assert done["metrics"]["validation_accuracy"] > 0.8
    assert done["data"]["location"] == f"s3://{BUCKET}/wine/wine.parquet"
    assert done["data"]["format"] == "parquet"
    assert done["data"]["fingerprint"].startswith("xxh3_128:")
    assert (done["data"]["rows"], done["data"]["columns"]) == (178, 5)


@pytest.mark.parametrize(
    ("path", "config", "words"),
    [
        ("s3://other-bucket/wine.parquet", {}, "TRAINYARD_S3_ALLOWED_BUCKETS"),
        (f"s3://{BUCKET}/wine/missing.parquet", {}, "no such object"),
        (f"s3://{BUCKET}/wine/not-parquet.parquet", {}, "is not a parquet file"),
        (f"s3://{BUCKET}/wine/wine.parquet", {"feature_columns": ["color"]}, "'color' is not in"),
    ],
)
def test_s3_problems_are_a_422_at_submit(
    s3_client: TestClient, path: str, config: dict[str, Any], words: str
) -> None:
    response = submit(s3_client, path, **config)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
