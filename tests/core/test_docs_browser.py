"""The docs pages render in headless Chromium with every host but loopback unreachable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fixtures import REQUIRE_SERVICES, ROOT
from tests.fixtures.servers import LiveServer

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts"
# Every name resolves to nothing, except loopback: the page gets no network but the service.
NO_NETWORK = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def chromium() -> str:
    found = os.environ.get("TRAINYARD_TEST_CHROMIUM") or shutil.which("chromium")
    if found is None:
        if REQUIRE_SERVICES:
            pytest.fail("chromium is not installed, and CI requires it (.ci/run installs it)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return found


def run_chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--host-resolver-rules={NO_NETWORK}",
            "--virtual-time-budget=20000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def operations(server: LiveServer) -> list[tuple[str, str, str]]:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    return [
        (method, path, operation["operationId"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_swagger_ui_renders_every_operation_offline(
    live_server: LiveServer, tmp_path: Path
) -> None:
    page = httpx.get(f"{live_server.url}/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets

    result = run_chromium(f"{live_server.url}/docs", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'class="swagger-ui"' in dom
    rendered = set(re.findall(r'class="opblock opblock-(\w+)[^"]*" id="operations-[^"]*"', dom))
    assert rendered >= {"get", "post"}
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    expected = {path for _, path, _ in operations(live_server)}
    assert paths == expected
    for needed in ("/v1/training-jobs", "/v1/algorithms/{name}", "/metrics"):
        assert needed in paths

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "docs.png"
    screenshot.unlink(missing_ok=True)
    shot = run_chromium(
        f"{live_server.url}/docs",
        tmp_path / "profile-shot",
        "--window-size=1280,2400",
        f"--screenshot={screenshot}",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_redoc_renders_offline(live_server: LiveServer, tmp_path: Path) -> None:
    result = run_chromium(f"{live_server.url}/redoc", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    for _, _, operation_id in operations(live_server):
        assert f"operation/{operation_id}" in dom, operation_id
    assert "Cancel a pending job at once" in dom
