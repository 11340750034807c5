"""``DirectPaths`` serves a polled read before the application's routing: the answers must be
those of the full route, and everything it does not serve must reach the application as if
it were not there."""

from __future__ import annotations

import dataclasses
import uuid

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from app.core.routing import DirectPath, DirectPaths
from app.jobs.models import utcnow
from app.jobs.repository.status import StatusRow
from app.jobs.service import StatusBodies
from tests.fixtures.jobs import job_request


def _app(served: list[str]) -> FastAPI:
    """A full route that says it answered, and a direct function for the same path."""

    async def direct(request: Request) -> Response | None:
        item = request.path_params["item"]
        if item == "boom":
            raise RuntimeError("the direct function failed")
        if item.startswith("direct-"):
            served.append("direct")
            return Response(f"direct {item}", media_type="text/plain")
        return None

    app = FastAPI()

    @app.get("/items/{item}")
    async def full(item: str) -> dict[str, str]:
        served.append("full")
        return {"item": item}

    @app.get("/other")
    async def other() -> dict[str, str]:
        served.append("other")
        return {}

    app.add_middleware(DirectPaths, paths=[DirectPath("GET", "/items/{item}", direct)])
    return app


def test_a_matching_request_is_answered_before_the_router_and_the_rest_go_on() -> None:
    served: list[str] = []
    with TestClient(_app(served)) as client:
        assert client.get("/items/direct-1").text == "direct direct-1"
        assert served == ["direct"]
        # Declined, raised, another method, another path: the application answers.
        assert client.get("/items/plain").json() == {"item": "plain"}
        assert client.get("/items/boom").json() == {"item": "boom"}
        assert client.post("/items/direct-2").status_code == 405
        assert client.get("/other").json() == {}
        assert served == ["direct", "full", "full", "other"]


def test_dependency_overrides_and_a_root_path_send_the_request_to_the_application() -> None:
    served: list[str] = []
    app = _app(served)
    app.dependency_overrides[object] = object
    with TestClient(app) as client:
        assert client.get("/items/direct-1").json() == {"item": "direct-1"}
    app.dependency_overrides.clear()
    with TestClient(app, root_path="/prefix") as client:
        assert client.get("/prefix/items/direct-1").json() == {"item": "direct-1"}
    assert served == ["full", "full"]


def test_the_status_route_keeps_its_metrics_label_errors_and_neighbours(
    client: TestClient,
) -> None:
    job_id = client.post("/v1/training-jobs", json=job_request()).json()["job_id"]
    assert client.get(f"/v1/training-jobs/{job_id}").status_code == 200
    missing = client.get(f"/v1/training-jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    metrics = client.get("/metrics").text
    label = 'method="GET",route="/v1/training-jobs/{job_id}"'
    assert f'trainyard_http_requests_total{{{label},status="200"}}' in metrics
    assert f'trainyard_http_requests_total{{{label},status="404"}}' in metrics
    # /stream has the shape of /{job_id} but is the streams route's.
    refused = client.get("/v1/training-jobs/stream", params={"status": "nope"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "status"


def _row(**changes: object) -> StatusRow:
    now = utcnow()
    row = StatusRow(
        id=uuid.uuid4(),
        model_name="m",
        model_version="1",
        algorithm="DecisionTreeClassifier",
        status="running",
        stage="training",
        message=None,
        progress=40.0,
        eta_seconds=None,
        metrics=None,
        best_hyperparameters=None,
        artifacts_location=None,
        experiment_name=None,
        tags={"team": "a"},
        error_type=None,
        error_stage=None,
        error_message=None,
        registry_info=None,
        data_lineage=None,
        estimate=None,
        created_at=now,
        started_at=now,
        updated_at=now,
        completed_at=None,
        attempt=1,
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def test_a_status_body_is_reused_only_for_an_equal_row() -> None:
    bodies = StatusBodies(size=2)
    row = _row()
    first = bodies.body(row)
    assert bodies.body(dataclasses.replace(row)) is first  # equal, read again
    moved = bodies.body(dataclasses.replace(row, progress=60.0))
    assert moved != first
    assert b'"progress":60.0' in moved
    # A change deep inside a JSON column counts too.
    retagged = bodies.body(dataclasses.replace(row, progress=60.0, tags={"team": "b"}))
    assert b'"team":"b"' in retagged
    # At most ``size`` jobs are kept, the oldest goes first.
    others = [_row(), _row()]
    for other in others:
        bodies.body(other)
    assert bodies.body(dataclasses.replace(row, progress=60.0, tags={"team": "b"})) is not retagged
