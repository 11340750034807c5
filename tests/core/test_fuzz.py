"""Schemathesis against the running service's own OpenAPI document, every operation:
no server error, and every response conforms to the schema (status, content type, body)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures.app import make_settings
from tests.fixtures.servers import LiveServer, settings_env

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def test_schemathesis_finds_no_server_error_or_schema_violation(
    sqlite_template: Path, tmp_path: Path, data_root: Path
) -> None:
    database = tmp_path / "fuzz.db"
    shutil.copy(sqlite_template, database)
    settings = make_settings(f"sqlite:///{database}", tmp_path, data_root, max_concurrent_jobs=1)
    server = LiveServer(settings_env(settings), tmp_path / "server.log").start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                CHECKS,
                "--max-examples",
                "40",
                "--seed",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
                "--suppress-health-check",
                "all",
                # The event streams answer until the job ends (a tenant's never ends), which a
                # fuzzer cannot wait for; tests/streams covers them against a real server.
                "--exclude-tag",
                "streams",
                "--report-dir",
                str(tmp_path / "schemathesis"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=tmp_path,  # schemathesis keeps a cache in the working folder
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
