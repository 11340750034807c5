"""Uploads: streamed to the data root, size-limited, listed, and trainable by their path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from app.main import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job


def iris_csv() -> bytes:
    return load_iris(as_frame=True).frame.to_csv(index=False).encode()


def upload(client: TestClient, name: str, content: bytes) -> Any:
    return client.post("/v1/datasets", files={"file": (name, content, "text/csv")})


def test_upload_list_and_train(client: TestClient, data_root: Path) -> None:
    response = upload(client, "my iris.csv", iris_csv())
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["path"] == "uploads/my_iris.csv"
    assert info["format"] == "csv"
    assert info["rows"] == 150
    assert info["columns"][-1] == "target"
    assert (data_root / "uploads" / "my_iris.csv").read_bytes() == iris_csv()
    assert not [p for p in (data_root / "uploads").iterdir() if p.name.startswith(".incoming")]

    listed = client.get("/v1/datasets").json()["items"]
    assert [(d["path"], d["rows"], d["fingerprint"]) for d in listed] == [
        (info["path"], 150, info["fingerprint"])
    ]

    job = client.post(
        "/v1/training-jobs",
        json=job_request(data_source_config={"path": info["path"], "target_column": "target"}),
    )
    assert job.status_code == 202, job.text
    done = wait_for_job(client, job.json()["job_id"])
    assert done["status"] == "completed", done
    assert done["data"]["fingerprint"] == info["fingerprint"]


def test_an_existing_name_is_not_replaced(client: TestClient) -> None:
    assert upload(client, "a.csv", iris_csv()).status_code == 201
    again = upload(client, "a.csv", b"x,y\n1,2\n")
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("../../etc/evil.csv", b"x,y\n", "holds no rows"),
        ("notes.exe", b"MZ", "has no known extension"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "it looks like a PNG image"),
        ("..", b"a", "is not a usable file name"),
    ],
)
def test_bad_uploads_are_a_422_and_leave_nothing(
    client: TestClient, data_root: Path, name: str, content: bytes, words: str
) -> None:
    response = upload(client, name, content)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    uploads = data_root / "uploads"
    left = [p.name for p in uploads.iterdir() if p.is_file()] if uploads.exists() else []
    assert left == []
    assert not (data_root.parent / "etc").exists()


def test_not_multipart_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/datasets", content=b"a,b\n", headers={"content-type": "text/csv"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    missing = client.post("/v1/datasets", files={"other": ("a.csv", b"a,b\n1,2\n", "text/csv")})
    assert missing.status_code == 422
    assert "no file was sent" in missing.json()["detail"]


@pytest.fixture
def small_client(database_url: str, tmp_path: Path, data_root: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, tmp_path, data_root, max_upload_bytes=1000)
    with TestClient(create_app(settings)) as client:
        yield client


def test_too_large_is_a_413_with_or_without_a_content_length(
    small_client: TestClient, data_root: Path
) -> None:
    declared = upload(small_client, "big.csv", b"a,b\n" + b"1,2\n" * 20_000)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert "over the limit of 1000 bytes" in declared.json()["detail"]

    # Chunked, no Content-Length: the limit stops the stream at the first byte past it.
    boundary = "trainyardboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"'
        "\r\nContent-Type: text/csv\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        yield b"a,b\n"
        for _ in range(100):
            yield b"1,2\n" * 50
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = small_client.post(
        "/v1/datasets",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413
    uploads = data_root / "uploads"
    assert [p.name for p in uploads.iterdir() if p.is_file()] == []
    assert small_client.get("/v1/datasets").json()["items"] == []
