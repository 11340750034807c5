"""A spare that ran an attempt may run the next one (``child.Keeper``): each attempt still
has its own log, the same random states and the same results as in a fresh process, and a
process is not kept after an attempt that set a memory limit, left a child process, or was
stopped."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from tests.execution.helpers import attempt_pgid, group_members, wait_gone
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import endless_job, job_request, wait_for_job

STARTED = re.compile(r"attempt 1 of job \S+ started in process (\d+)")


def run(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
    done = wait_for_job(client, job_id, timeout=60)
    assert done["status"] == "completed", done
    return done


def log_of(client: TestClient, job_id: str) -> str:
    deadline = time.monotonic() + 10
    while True:  # the supervisor's line comes a moment after the status
        text: str = client.get(f"/v1/training-jobs/{job_id}/logs").text
        if "supervisor:" in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def process_of(log: str) -> int:
    match = STARTED.search(log)
    assert match, log
    return int(match.group(1))


def test_consecutive_attempts_share_a_kept_process_each_with_its_own_log(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, max_concurrent_jobs=1, spare_processes=1
    )
    forest = {
        "name": "RandomForestClassifier",
        "parameters": {"n_estimators": 5, "random_state": None},
    }
    body = job_request(algorithm_config=forest)
    with TestClient(create_app(settings)) as client:
        jobs = [run(client, body) for _ in range(3)]
        logs = [log_of(client, job["job_id"]) for job in jobs]
    # The first job may start before the first spare is ready (in a process of its own); the
    # spare takes the second, and is kept for the third.
    assert process_of(logs[1]) == process_of(logs[2])
    assert "kept for the next one (outcome: recorded)" in logs[1].splitlines()[-1]
    for job, log in zip(jobs, logs, strict=True):
        assert log.count("started in process") == 1  # nothing of another attempt
        assert job["job_id"] in log
        assert "(outcome: recorded)" in log.splitlines()[-1]
    # No random_state given: the forest draws from the global state, which each attempt
    # starts from as a fresh process would.
    assert jobs[0]["metrics"] == jobs[1]["metrics"] == jobs[2]["metrics"]


def test_one_attempt_per_process_when_so_set(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        max_concurrent_jobs=1,
        spare_processes=1,
        attempts_per_process=1,
    )
    with TestClient(create_app(settings)) as client:
        jobs = [run(client, job_request()) for _ in range(2)]
        logs = [log_of(client, job["job_id"]) for job in jobs]
    assert len({process_of(log) for log in logs}) == 2
    assert all("exited with code 0" in log.splitlines()[-1] for log in logs)


def test_a_memory_limited_attempt_and_a_cancelled_one_end_their_process(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, max_concurrent_jobs=1, spare_processes=1
    )
    with TestClient(create_app(settings)) as client:
        limited = run(client, job_request(resource_config={"memory_limit_mb": 2048}))
        limited_log = log_of(client, limited["job_id"])
        limited_pid = process_of(limited_log)
        assert "exited with code 0" in limited_log.splitlines()[-1]
        # Jobs until one runs in the process of the one before: a kept process.
        pids = [process_of(log_of(client, run(client, job_request())["job_id"]))]
        while len(pids) < 2 or pids[-1] != pids[-2]:
            assert len(pids) < 5, pids
            pids.append(process_of(log_of(client, run(client, job_request())["job_id"])))
        kept_pid = pids[-1]
        assert limited_pid not in pids
        assert wait_gone([limited_pid], timeout=5) == []

        # The kept process takes the next job; cancelling it kills the process and its group.
        endless = client.post("/v1/training-jobs", json=endless_job()).json()["job_id"]
        wait_for_job(client, endless, statuses={"running"})
        pgid = attempt_pgid(settings.database_url, endless, 1)
        assert pgid == kept_pid
        client.post(f"/v1/training-jobs/{endless}/cancel")
        assert wait_for_job(client, endless, timeout=10)["status"] == "cancelled"
        assert wait_gone([kept_pid], timeout=5) == []
        assert group_members(pgid) == []

        fresh = run(client, job_request())
        assert process_of(log_of(client, fresh["job_id"])) not in {kept_pid, limited_pid}


CHECK = """
import subprocess
from app.execution.child import _has_children
print(_has_children())
child = subprocess.Popen(["sleep", "30"])
print(_has_children())
child.kill()
child.wait()
print(_has_children())
"""


def test_a_child_process_still_running_is_seen() -> None:
    # In a process of its own: this one has other tests' children.
    seen = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    assert seen.stdout.split() == ["False", "True", "False"]
