"""The curl scripts under examples/ run green against a live server."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

from tests.fixtures import ROOT
from tests.fixtures.servers import LiveServer

pytestmark = pytest.mark.slow
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _needs_curl() -> None:
    if shutil.which("curl") is None:
        pytest.fail("the curl examples need curl (apt-get install curl)")


def script(server: LiveServer, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(EXAMPLES / name), *args],
        cwd=ROOT,
        env=server.env(POLL_INTERVAL="0.2"),
        capture_output=True,
        text=True,
        timeout=180,
    )


def endpoint_or_skip(server: LiveServer, method: str, path: str) -> None:
    if method not in httpx.get(f"{server.url}/openapi.json").json()["paths"].get(path, {}):
        pytest.skip(f"{method.upper()} {path} is not on this branch yet")


def submit(server: LiveServer, job_file: str) -> str:
    submitted = script(server, "submit.sh", job_file)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    body = json.loads(submitted.stdout)
    assert body["status"] == "pending"
    return str(body["job_id"])


def test_submit_poll_list(live_server: LiveServer) -> None:
    job_id = submit(live_server, "examples/iris.json")
    polled = script(live_server, "poll.sh", job_id)
    assert polled.returncode == 0, polled.stdout + polled.stderr
    lines = polled.stdout.splitlines()
    assert lines[-1].strip().startswith("validation_")
    assert "completed done 100%" in polled.stdout
    assert "validation_accuracy = " in polled.stdout

    listed = script(live_server, "list.sh", "model_name=iris-classifier", "status=completed")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert job_id in [job["job_id"] for job in page["items"]]
    assert all(job["status"] == "completed" for job in page["items"])

    logs = script(live_server, "logs.sh", job_id)
    assert logs.returncode == 0
    assert "stage storing_artifacts" in logs.stdout


def test_cancel(live_server: LiveServer) -> None:
    slow = {
        "model_name": "slow-forest",
        "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
        "algorithm_config": {
            "name": "RandomForestClassifier",
            "parameters": {"n_estimators": 3000},
        },
    }
    job_file = live_server.data_root / "slow.json"
    job_file.write_text(json.dumps(slow))
    job_id = submit(live_server, str(job_file))
    cancelled = script(live_server, "cancel.sh", job_id)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert json.loads(cancelled.stdout)["job_id"] == job_id
    polled = script(live_server, "poll.sh", job_id)
    assert polled.returncode == 1
    assert polled.stdout.splitlines()[-2].startswith("cancelled")
    # Cancelling a finished job is a conflict: the script fails and shows the problem.
    again = script(live_server, "cancel.sh", job_id)
    assert again.returncode != 0
    assert json.loads(again.stdout)["status"] == 409


def test_errors_come_back_as_problem_documents(live_server: LiveServer) -> None:
    bad = live_server.data_root / "bad.json"
    bad.write_text(json.dumps({"model_name": "x", "algorithm_config": {"name": "Nope"}}))
    submitted = script(live_server, "submit.sh", str(bad))
    assert submitted.returncode != 0
    problem = json.loads(submitted.stdout)
    assert problem["status"] == 422
    assert "data_source_config" in {e["field"] for e in problem["errors"]}


def test_predict(live_server: LiveServer) -> None:
    endpoint_or_skip(live_server, "post", "/v1/training-jobs/{job_id}/predictions")
    job_id = submit(live_server, "examples/iris.json")
    assert script(live_server, "poll.sh", job_id).returncode == 0
    predicted = script(live_server, "predict.sh", job_id)
    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    assert "predictions" in json.loads(predicted.stdout)


def test_upload(live_server: LiveServer) -> None:
    endpoint_or_skip(live_server, "post", "/v1/datasets")
    uploaded = script(live_server, "upload.sh", "examples/houses.csv")
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    body = json.loads(uploaded.stdout)
    assert "path" in body


def test_every_script_is_runnable_bash() -> None:
    for path in sorted(EXAMPLES.glob("*.sh")):
        checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{path.name}: {checked.stderr}"
