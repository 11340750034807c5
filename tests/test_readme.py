"""The README's curl walkthrough works as written, against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from app.config import Settings
from tests.fixtures import ROOT
from tests.fixtures.jobs import wait_for_job
from tests.fixtures.servers import LiveServer, settings_env


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)[0]


def test_readme_walkthrough_runs_as_written(settings: Settings, tmp_path: Path) -> None:
    server = LiveServer(settings_env(settings), tmp_path / "server.log").start()
    try:
        script = walkthrough().replace("http://127.0.0.1:8000", server.url)
        script = script.replace("/tmp/job.json", str(tmp_path / "job.json"))
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script + '\necho "JOB=$JOB"'],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        job_id = done.stdout.strip().rsplit("JOB=", 1)[1]
        assert '"status":"pending"' in done.stdout
        assert '"status":"completed"' in done.stdout
        assert '"stage":"storing_artifacts"' in done.stdout  # the events call
        assert '"confusion_matrix":' in done.stdout  # the evaluation call
        with httpx.Client(base_url=server.url) as http:
            job = wait_for_job(http, job_id, statuses={"completed", "failed"})
        assert job["status"] == "completed", job
        assert job["metrics"]["validation_accuracy"] > 0.9
        assert job["experiment_name"] == "iris"
    finally:
        server.stop()


def test_readme_python_example_runs_as_written(settings: Settings, tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The service layer from Python", 1)[1].split("\n## ", 1)[0]
    script = tmp_path / "example.py"
    script.write_text(re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0])
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **settings_env(settings), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert done.stdout.startswith("completed {"), done.stdout + done.stderr[-2000:]
    assert "validation_accuracy" in done.stdout
