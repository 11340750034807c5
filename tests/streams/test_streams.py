"""The event streams against a real server and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from trainyard_client import TrainyardClient
from trainyard_client.sse import StreamEvent, parse

from tests.fixtures.jobs import job_request, wait_for_job

SEARCH = {
    "strategy": "random",
    "search_space": {"n_estimators": {"type": "int", "low": 5, "high": 20}},
    "max_trials": 3,
    "cv_folds": 2,
}


def read_stream(
    http: httpx.Client, path: str, *, last_event_id: str | None = None, stop: Any = None
) -> list[StreamEvent]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    frames: list[StreamEvent] = []
    with http.stream("GET", path, headers=headers, timeout=httpx.Timeout(30, read=60)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for frame in parse(response.iter_lines()):
            frames.append(frame)
            if stop is not None and stop(frames):
                break
    return frames


def polled_events(http: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = http.get(f"/v1/training-jobs/{job_id}/events").json()
    return events


def log_lines(frames: list[StreamEvent]) -> list[tuple[int, str]]:
    return [
        (f.data["attempt"], line) for f in frames if f.event == "log" for line in f.data["lines"]
    ]


def same_events(streamed: list[StreamEvent], polled: list[dict[str, Any]]) -> None:
    keys = ("status", "stage", "attempt", "message")
    assert [tuple(f.data[k] for k in keys) for f in streamed] == [
        tuple(e[k] for k in keys) for e in polled
    ]


def test_a_tenant_stream_opened_before_submit_sees_every_event_in_order(
    http: httpx.Client,
) -> None:
    frames: list[StreamEvent] = []
    job_ids: list[str] = []

    def ended(got: list[StreamEvent]) -> bool:
        return any(
            f.event == "event" and f.data["status"] == "completed" and f.data["job_id"] in job_ids
            for f in got
        )

    opened = threading.Event()

    def follow() -> None:
        def stop(got: list[StreamEvent]) -> bool:
            opened.set()
            return ended(got)

        frames.extend(read_stream(http, "/v1/training-jobs/stream", stop=stop))

    reader = threading.Thread(target=follow)
    reader.start()
    assert opened.wait(30)  # the "ready" frame: subscribed
    job = http.post(
        "/v1/training-jobs", json=job_request(hyperparameter_tuning_config=SEARCH)
    ).json()
    job_ids.append(job["job_id"])
    reader.join(120)
    assert not reader.is_alive()
    assert frames[0].event == "ready"
    mine = [f for f in frames if f.event == "event" and f.data["job_id"] == job["job_id"]]
    same_events(mine, polled_events(http, job["job_id"]))
    assert [f.data["id"] for f in mine] == sorted(f.data["id"] for f in mine)
    trials = [f for f in frames if f.event == "trial"]
    assert len(trials) == 3
    assert all(f.id for f in frames)


def test_a_job_stream_ends_after_the_terminal_status_and_resumes_without_gap_or_repeat(
    http: httpx.Client,
) -> None:
    job = http.post(
        "/v1/training-jobs", json=job_request(hyperparameter_tuning_config=SEARCH)
    ).json()
    path = f"/v1/training-jobs/{job['job_id']}/stream"
    whole = read_stream(http, path)
    assert whole[0].event == "status"
    assert whole[-1].event == "status"
    assert whole[-1].data["status"] == "completed"
    kinds = {f.event for f in whole}
    assert {"status", "event", "trial", "log"} <= kinds
    events = [f for f in whole if f.event == "event"]
    same_events(events, polled_events(http, job["job_id"]))
    assert events[-1].data["status"] == "completed"

    # Each kind keeps its order; a backlog sends trials, then events, then log lines.
    ordered = [f for f in whole if f.event in ("event", "trial", "log")]
    for cut in (1, len(ordered) // 2, len(ordered) - 1):
        resumed = read_stream(http, path, last_event_id=ordered[cut - 1].id)
        for kind in ("event", "trial"):
            rest = [f.data for f in resumed if f.event == kind]
            assert rest == [f.data for f in ordered[cut:] if f.event == kind], (cut, kind)
        # Log lines come in batches of what was written: compare the lines themselves. The
        # supervisor may append its last line after the first read ended, so the resumed
        # read may hold more at its end, never less nor other.
        expected = log_lines(ordered[cut:])
        assert log_lines(resumed)[: len(expected)] == expected, cut

    # Past the end: nothing but the last status (and the supervisor's last log line, when it
    # was written after the first read ended).
    after_end = read_stream(http, path, last_event_id=ordered[-1].id)
    assert [f.event for f in after_end if f.event != "log"] == ["status"]


def test_the_stream_answers_404_and_422_before_it_starts(http: httpx.Client) -> None:
    missing = http.get("/v1/training-jobs/3f1c2a9e-8d47-4b1e-9a55-0c6f1d2b7e10/stream")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    job = http.post("/v1/training-jobs", json=job_request()).json()
    bad = http.get(
        f"/v1/training-jobs/{job['job_id']}/stream", headers={"Last-Event-ID": "nonsense"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "Last-Event-ID"
    assert http.get("/v1/training-jobs/stream", params={"status": "nope"}).status_code == 422
    wait_for_job(http, job["job_id"])


def test_the_client_waits_on_the_stream(server_url: str) -> None:
    with TrainyardClient(server_url) as client:
        job = client.submit(job_request())
        seen: list[dict[str, Any]] = []
        done = client.wait(job["job_id"], on_update=seen.append)
    assert done["status"] == "completed"
    assert seen
    assert seen[-1]["progress"] == 100


def test_the_client_falls_back_to_polling_an_older_server(server_url: str) -> None:
    def older(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(404, json={"type": "about:blank", "status": 404})
        return httpx.Client(base_url=server_url).send(request)

    with TrainyardClient(server_url, transport=httpx.MockTransport(older)) as client:
        job = client.submit(job_request())
        assert client.wait(job["job_id"], poll_interval=0.1)["status"] == "completed"
