"""A corpus of bad data files: each ends as a 422 or a failed job that names the file and the
problem, never a 500 or a stuck job, and the service keeps serving afterwards."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.jobs import job_request, wait_for_job


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]}).to_parquet(buffer)
    return buffer.getvalue()


CORPUS = {
    "malformed": (b'a,b,y\n1,2,0\n3,4,5,6,7\n"never closed,1\n', "malformed.csv"),
    "binary junk": (os.urandom(4096) + b"\x00" * 64, "junk.csv"),
    "empty": (b"", "empty.csv"),
    "one huge line": (b"a,b,y" + b",x" * 400_000, "huge.csv"),
    "not UTF-8": (b"a,b,y\n" + b"\xff\xfe\xe9t\xe9,2,0\n" * 10, "latin.csv"),
    "duplicate columns": (b"a,a,y\n1,2,0\n3,4,1\n" * 5, "twice.csv"),
    "parquet named .csv": (parquet_bytes(), "disguised.csv"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_bad_file_is_a_clear_422_or_failed_job(
    client: TestClient, data_root: Path, case: str
) -> None:
    content, name = CORPUS[case]
    (data_root / name).write_bytes(content)
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": name, "target_column": "y"},
            algorithm_config={"name": "LogisticRegression"},
        ),
    )
    if response.status_code == 422:
        message = response.json()["detail"]
    else:
        assert response.status_code == 202, response.text
        done = wait_for_job(client, response.json()["job_id"])
        assert done["status"] == "failed", done
        assert done["error"]["type"] == "DataAccessError", done["error"]
        message = done["error"]["message"]
    assert name in message, message
    assert len(message) > len(name) + 10, message  # it says what is wrong, not just where
    assert client.get("/healthz").status_code == 200


def test_unicode_column_names_are_fine_data(client: TestClient, data_root: Path) -> None:
    frame = pd.DataFrame(
        {"prix €": [float(i) for i in range(40)], "ville": ["Zürich", "東京"] * 20}
    )
    frame["étiquette"] = (frame["prix €"] > 20).astype(int)
    frame.to_csv(data_root / "unicode.csv", index=False)
    response = client.post(
        "/v1/training-jobs",
        json=job_request(
            data_source_config={"path": "unicode.csv", "target_column": "étiquette"},
            algorithm_config={"name": "LogisticRegression"},
        ),
    )
    assert response.status_code == 202, response.text
    assert wait_for_job(client, response.json()["job_id"])["status"] == "completed"


def test_the_service_keeps_serving_after_the_corpus(client: TestClient, data_root: Path) -> None:
    for content, name in CORPUS.values():
        (data_root / name).write_bytes(content)
        client.post(
            "/v1/training-jobs",
            json=job_request(data_source_config={"path": name, "target_column": "y"}),
        )
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    assert wait_for_job(client, job_id, timeout=120)["status"] == "completed"
