"""The real app served by uvicorn in a thread on a free loopback port (streams need a real
server: the test client buffers a whole response before returning it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.fixtures.network import free_port


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        # A stream still open (a test that failed mid-read) would hold a graceful shutdown
        # forever, and the server, its executor and its webhook sender would outlive the test.
        server.should_exit = True
        thread.join(5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(25)
        assert not thread.is_alive(), "the test server did not stop"


@pytest.fixture
def stream_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_poll_seconds": 0.1, "stream_heartbeat_seconds": 0.5})


@pytest.fixture
def server_url(stream_settings: Settings) -> Iterator[str]:
    with serve(stream_settings) as url:
        yield url


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client
