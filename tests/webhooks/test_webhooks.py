"""Webhooks against a real receiver on loopback, the real app and database."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.fixtures.jobs import job_request, wait_for_job


class Receiver:
    """An HTTP server that answers the statuses it is given, in turn (then 200); with
    ``per_delivery``, that sequence for each delivery id (tries of two deliveries may
    interleave in any order)."""

    def __init__(self, answers: list[int], per_delivery: bool = False) -> None:
        self.answers = list(answers)
        self.per_delivery = per_delivery
        self.by_delivery: dict[str, list[int]] = {}
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                answers = receiver.answers
                if receiver.per_delivery:
                    key = self.headers["Trainyard-Webhook-Id"]
                    answers = receiver.by_delivery.setdefault(key, list(receiver.answers))
                status = answers.pop(0) if answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made: list[Receiver] = []

    def make(answers: list[int], per_delivery: bool = False) -> Receiver:
        made.append(Receiver(answers, per_delivery))
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.close()


def hook_settings(settings: Settings, url: str, **extra: Any) -> Settings:
    host = url.rsplit("/", 1)[0]
    values = {
        "webhook_allowed_hosts": [host],
        "webhook_poll_seconds": 0.1,
        "webhook_backoff_seconds": 0.2,
        "webhook_timeout_seconds": 5.0,
        **extra,
    }
    return settings.model_copy(update=values)


def wait_until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's verification snippet."""
    timestamp = headers["Trainyard-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), headers["Trainyard-Signature"])


def test_a_delivery_is_retried_after_5xx_with_the_same_signed_body(
    settings: Settings, receiver: Any
) -> None:
    hook = receiver([500, 500, 200], per_delivery=True)
    with TestClient(create_app(hook_settings(settings, hook.url))) as client:
        created = client.post(
            "/v1/webhooks", json={"url": hook.url, "events": ["job.completed", "job.started"]}
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        job = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, job["job_id"])

        def delivered() -> list[dict[str, Any]]:
            items = client.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["items"]
            return [d for d in items if d["status"] == "delivered"] if len(items) == 2 else []

        wait_until(lambda: len(delivered()) == 2)
        items = client.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["items"]
    by_type = {d["event_type"]: d for d in items}
    assert set(by_type) == {"job.started", "job.completed"}
    tries = [t["status_code"] for d in items for t in d["tries"]]
    assert sorted(tries) == [200, 200, 500, 500, 500, 500]
    assert len(hook.received) == 6
    bodies: dict[bytes, int] = {}
    for headers, body in hook.received:
        assert verify(webhook["secret"], headers, body)
        assert not verify("whsec_wrong", headers, body)
        bodies[body] = bodies.get(body, 0) + 1
    assert sorted(bodies.values()) == [3, 3]  # each delivery three times, byte for byte
    completed = by_type["job.completed"]["payload"]
    assert completed["data"]["job_id"] == job["job_id"]
    assert completed["data"]["status"] == "completed"


def test_a_delivery_survives_an_api_restart_between_tries(
    settings: Settings, receiver: Any
) -> None:
    hook = receiver([503])
    configured = hook_settings(settings, hook.url, webhook_backoff_seconds=2.0)
    with TestClient(create_app(configured)) as client:
        webhook = client.post(
            "/v1/webhooks", json={"url": hook.url, "events": ["job.completed"]}
        ).json()
        job = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, job["job_id"])
        wait_until(lambda: len(hook.received) == 1)
    restarted_after = len(hook.received)
    with TestClient(create_app(configured)) as client:
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        wait_until(lambda: client.get(path).json()["items"][0]["status"] == "delivered")
        delivery = client.get(path).json()["items"][0]
    assert restarted_after == 1
    assert [t["status_code"] for t in delivery["tries"]] == [503, 200]
    assert len(hook.received) == 2
    assert hook.received[0][1] == hook.received[1][1]


def test_a_job_failure_is_not_sent_to_a_webhook_of_another_model_or_tenant(
    settings: Settings, receiver: Any
) -> None:
    hook = receiver([])
    with TestClient(create_app(hook_settings(settings, hook.url))) as client:
        webhook = client.post(
            "/v1/webhooks",
            json={"url": hook.url, "events": ["job.completed"], "model_name": "other-model"},
        ).json()
        job = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, job["job_id"])
        matching = client.post("/v1/training-jobs", json=job_request(model_name="other-model"))
        wait_for_job(client, matching.json()["job_id"])
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        wait_until(lambda: client.get(path).json()["items"])
        items = client.get(path).json()["items"]
    assert [d["payload"]["data"]["model_name"] for d in items] == ["other-model"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.1.2.3/hook", "not allowed"),
        ("https://127.0.0.1:9/hook", "not allowed"),
        ("https://169.254.169.254/latest", "not allowed"),
        ("ftp://example.com/hook", "scheme"),
    ],
)
def test_a_url_off_the_allow_list_is_a_422_naming_the_field(
    client: TestClient, url: str, why: str
) -> None:
    answer = client.post("/v1/webhooks", json={"url": url, "events": ["job.completed"]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"][0]["field"] == "url"
    assert why in body["detail"]
    assert "TRAINYARD_WEBHOOK_ALLOWED_HOSTS" in body["detail"] or why == "scheme"


def test_webhooks_are_listed_deleted_and_kept_per_tenant(settings: Settings, receiver: Any) -> None:
    hook = receiver([])
    with TestClient(create_app(hook_settings(settings, hook.url))) as client:
        bad = client.post("/v1/webhooks", json={"url": hook.url, "events": ["job.exploded"]})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"].startswith("events")
        created = client.post("/v1/webhooks", json={"url": hook.url, "events": ["job.failed"]})
        webhook_id = created.json()["id"]
        listed = client.get("/v1/webhooks").json()["items"]
        assert [w["id"] for w in listed] == [webhook_id]
        assert "secret" not in listed[0]
        assert client.get(f"/v1/webhooks/{webhook_id}").status_code == 200
        assert client.delete(f"/v1/webhooks/{webhook_id}").status_code == 204
        assert client.delete(f"/v1/webhooks/{webhook_id}").status_code == 404
        assert client.get(f"/v1/webhooks/{webhook_id}/deliveries").status_code == 404
        assert client.get("/v1/webhooks").json()["items"] == []


def test_a_delivery_goes_to_the_address_that_was_checked_not_a_second_dns_answer(
    settings: Settings, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name passes the check as one address, then answers another. The
    sender connects to the checked address and never asks DNS again for the same try."""
    import socket

    hook = receiver([])
    port = hook.url.split(":")[2].split("/")[0]
    url = f"http://rebind.trainyard.test:{port}/hook"
    answers = {"checked": 0, "again": 0}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.trainyard.test":
            # The first answer of each try is the receiver; any later one points elsewhere.
            key = "checked" if answers["checked"] == answers["again"] else "again"
            answers[key] += 1
            return real("127.0.0.1" if key == "checked" else "127.0.0.2", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with TestClient(create_app(hook_settings(settings, url))) as client:
        created = client.post("/v1/webhooks", json={"url": url, "events": ["job.completed"]})
        assert created.status_code == 201, created.text
        answers.update(checked=0, again=0)
        job = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, job["job_id"])
        wait_until(lambda: len(hook.received) == 1)
    headers, _ = hook.received[0]
    assert headers["Host"] == f"rebind.trainyard.test:{port}"
    assert answers == {"checked": 1, "again": 0}


def test_with_no_webhook_the_sender_passes_events_unread_and_a_new_one_gets_what_follows(
    settings: Settings, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select

    from app.jobs.models import JobEvent
    from app.jobs.repository import JobRepository
    from app.webhooks.models import WebhookCursor

    reads: list[int] = []
    real = JobRepository.rows_after

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(JobRepository, "rows_after", counted)
    hook = receiver([])
    with TestClient(create_app(hook_settings(settings, hook.url))) as client:
        jobs: JobRepository = client.app.state.jobs.repository  # type: ignore[attr-defined]
        first = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, first["job_id"])

        def cursor_at_last_event() -> bool:
            with jobs.reader() as session:
                position = session.scalar(
                    select(WebhookCursor.position).where(WebhookCursor.name == "job_event")
                )
                last = session.scalar(select(func.max(JobEvent.id)))
            return position is not None and position == last

        wait_until(cursor_at_last_event)
        assert reads == []  # nothing read with nobody to tell
        client.post("/v1/webhooks", json={"url": hook.url, "events": ["job.completed"]})
        second = client.post("/v1/training-jobs", json=job_request()).json()
        wait_for_job(client, second["job_id"])
        wait_until(lambda: hook.received)
        time.sleep(0.5)  # a delivery of the first job would have come by now
    sent = [json.loads(body)["data"]["job_id"] for _, body in hook.received]
    assert sent == [second["job_id"]]
    assert reads
