"""API keys and tenants: every route but health needs a key, and a tenant sees only its own
jobs and uploads; and the request body limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.auth import hash_key
from app.main import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import job_request, wait_for_job

KEY_A, KEY_B = "key-of-team-a", "key-of-team-b"


@pytest.fixture
def keyed(database_url: str, tmp_path: Path, data_root: Path) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        api_keys=[f"team-a:{hash_key(KEY_A)}", f"team-b:{hash_key(KEY_B)}"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_required_and_checked(keyed: TestClient) -> None:
    missing = keyed.get("/v1/training-jobs")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        keyed.get(
            "/v1/training-jobs", params={"include_total": True}, headers=bearer("wrong")
        ).status_code
        == 401
    )
    assert keyed.post("/v1/training-jobs", json=job_request()).status_code == 401
    assert (
        keyed.get(
            "/v1/training-jobs", params={"include_total": True}, headers=bearer(KEY_A)
        ).status_code
        == 200
    )
    assert (
        keyed.get(
            "/v1/training-jobs", params={"include_total": True}, headers={"X-API-Key": KEY_B}
        ).status_code
        == 200
    )
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200


def test_the_status_route_checks_keys_as_every_route_does(keyed: TestClient) -> None:
    # The status route is served without FastAPI's dependency solving (app.core.routing); its
    # authentication must answer exactly as the solved dependency does on the list route.
    job_id = keyed.post("/v1/training-jobs", json=job_request(), headers=bearer(KEY_A)).json()[
        "job_id"
    ]
    status = f"/v1/training-jobs/{job_id}"
    for headers in ({}, bearer("wrong"), {"X-API-Key": "wrong"}, {"Authorization": KEY_A}):
        answer, reference = (
            keyed.get(status, headers=headers),
            keyed.get("/v1/training-jobs", headers=headers),
        )
        assert answer.status_code == reference.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers.get("www-authenticate") == reference.headers.get("www-authenticate")
        assert answer.json()["detail"] == reference.json()["detail"]
    assert keyed.get(status, headers=bearer(KEY_A)).json()["job_id"] == job_id
    assert keyed.get(status, headers={"X-API-Key": KEY_A}).json()["job_id"] == job_id
    # A Bearer header that is not a valid key is refused even beside a valid X-API-Key.
    both = {**bearer("wrong"), "X-API-Key": KEY_A}
    assert keyed.get(status, headers=both).status_code == 401
    assert keyed.get(status, headers=bearer(KEY_B)).status_code == 404


def test_a_tenant_cannot_reach_another_tenants_job(keyed: TestClient) -> None:
    job_id = keyed.post("/v1/training-jobs", json=job_request(), headers=bearer(KEY_A)).json()[
        "job_id"
    ]
    done = wait_for_job(keyed, job_id, headers=bearer(KEY_A))
    assert done["status"] == "completed"
    for method, path in [
        ("GET", f"/v1/training-jobs/{job_id}"),
        ("GET", f"/v1/training-jobs/{job_id}/events"),
        ("GET", f"/v1/training-jobs/{job_id}/trials"),
        ("POST", f"/v1/training-jobs/{job_id}/cancel"),
        ("GET", f"/v1/training-jobs/{job_id}/logs"),
        ("GET", f"/v1/training-jobs/{job_id}/model"),
    ]:
        response = keyed.request(method, path, headers=bearer(KEY_B))
        assert response.status_code == 404, (method, path, response.text)
    rows = {
        "rows": [
            {
                "sepal length (cm)": 5.1,
                "sepal width (cm)": 3.5,
                "petal length (cm)": 1.4,
                "petal width (cm)": 0.2,
            }
        ]
    }
    predict = f"/v1/training-jobs/{job_id}/predictions"
    assert keyed.post(predict, json=rows, headers=bearer(KEY_B)).status_code == 404
    assert keyed.post(predict, json=rows, headers=bearer(KEY_A)).status_code == 200
    assert keyed.get(f"/v1/training-jobs/{job_id}/model", headers=bearer(KEY_A)).status_code == 200
    assert (
        keyed.get(
            "/v1/training-jobs", params={"include_total": True}, headers=bearer(KEY_B)
        ).json()["total"]
        == 0
    )
    assert (
        keyed.get(
            "/v1/training-jobs", params={"include_total": True}, headers=bearer(KEY_A)
        ).json()["total"]
        == 1
    )
    # The same Idempotency-Key in two tenants names two different jobs.
    first = keyed.post(
        "/v1/training-jobs", json=job_request(), headers={**bearer(KEY_A), "Idempotency-Key": "k"}
    ).json()["job_id"]
    second = keyed.post(
        "/v1/training-jobs", json=job_request(), headers={**bearer(KEY_B), "Idempotency-Key": "k"}
    ).json()["job_id"]
    assert first != second


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    big = job_request(tags={f"t{i}": "x" * 30_000 for i in range(40)})
    response = client.post("/v1/training-jobs", json=big)
    assert response.status_code == 413
    assert "TRAINYARD_MAX_REQUEST_BYTES" in response.json()["detail"]


def test_uploads_belong_to_their_tenant(keyed: TestClient) -> None:
    csv = b"a,b,y\n" + b"1,2,0\n3,4,1\n" * 10
    uploaded = keyed.post(
        "/v1/datasets", files={"file": ("mine.csv", csv, "text/csv")}, headers=bearer(KEY_A)
    )
    assert uploaded.status_code == 201, uploaded.text
    path = uploaded.json()["path"]
    assert path == "uploads/team-a/mine.csv"
    assert [
        d["path"] for d in keyed.get("/v1/datasets", headers=bearer(KEY_A)).json()["items"]
    ] == [path]
    assert keyed.get("/v1/datasets", headers=bearer(KEY_B)).json()["items"] == []
    body = job_request(data_source_config={"path": path, "target_column": "y"})
    refused = keyed.post("/v1/training-jobs", json=body, headers=bearer(KEY_B))
    assert refused.status_code == 422
    assert "no such file" in refused.json()["detail"]
    assert keyed.post("/v1/training-jobs", json=body, headers=bearer(KEY_A)).status_code == 202
