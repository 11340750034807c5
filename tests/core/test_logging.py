"""JSON log lines that carry the job id, from the server and from training processes."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid

from fastapi.testclient import TestClient

from app.core.logging_setup import JsonFormatter, configure_logging, set_process_job
from tests.fixtures.jobs import job_request, wait_for_job


def submit(client: TestClient, **overrides: object) -> str:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def test_server_logs_are_json_lines_with_the_job_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        job_id = submit(client)
        wait_for_job(client, job_id)
        # The supervisor thread logs the outcome just after it records it.
        deadline = time.monotonic() + 10
        while "app.execution.local" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    about_job = [line for line in lines if job_id in line["message"]]
    assert any("submitted" in line["message"] for line in about_job)
    assert any(line["logger"] == "app.execution.local" for line in about_job)
    for line in about_job:
        assert line["job_id"] == job_id
        assert {"time", "level", "logger", "message"} <= set(line)


def test_json_formatter_finds_the_job_everywhere() -> None:
    formatter = JsonFormatter()
    job = uuid.uuid4()

    def record(msg: str, *args: object, **extra: object) -> dict[str, object]:
        entry = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
        entry.__dict__.update(extra)
        return json.loads(formatter.format(entry))  # type: ignore[no-any-return]

    assert record("job %s done", job)["job_id"] == str(job)
    assert record("x", job_id="abc")["job_id"] == "abc"
    assert "job_id" not in record("nothing about a job")
    set_process_job("child-job")
    try:
        assert record("inside a training process")["job_id"] == "child-job"
    finally:
        set_process_job(None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        entry = logging.LogRecord("t", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(formatter.format(entry))["exception"]


def test_configure_logging_is_idempotent() -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    configure_logging("json")
    configure_logging("text")
    assert len(root.handlers) == before
