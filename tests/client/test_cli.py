"""The ``trainyard`` command line against a real server (uvicorn subprocess, SQLite)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from trainyard_client import TrainyardAPIError, TrainyardClient

from tests.fixtures import ROOT
from tests.fixtures.servers import LiveServer

pytestmark = pytest.mark.slow
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def trainyard(
    server: LiveServer, *args: str, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainyard_client.cli", *args],
        cwd=ROOT,
        env=server.env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def has_endpoint(server: LiveServer, method: str, path: str) -> bool:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    return method in paths.get(path, {})


def submit_id(server: LiveServer, *args: str) -> str:
    result = trainyard(server, "submit", *args)
    assert result.returncode == 0, result.stderr
    match = UUID.search(result.stdout)
    assert match, result.stdout
    return match.group(0)


def test_submit_iris_then_watch_shows_progress_and_ends_with_metrics(
    live_server: LiveServer,
) -> None:
    result = trainyard(live_server, "submit", "examples/iris.json")
    assert result.returncode == 0, result.stderr
    assert "submitted job" in result.stdout
    job_id = UUID.search(result.stdout).group(0)  # type: ignore[union-attr]

    watched = trainyard(live_server, "watch", job_id, "--interval", "0.2")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    out = watched.stdout
    assert "100%" in out  # the progress bar's last state
    assert "completed / done" in out
    assert f"job {job_id} completed" in out
    assert "validation_accuracy" in out
    accuracy = float(re.search(r"validation_accuracy\s*│\s*([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    assert accuracy > 0.85

    status = trainyard(live_server, "status", job_id, "--json")
    assert json.loads(status.stdout)["metrics"]["validation_accuracy"] == pytest.approx(
        accuracy, abs=1e-4
    )


def test_list_shows_a_table_of_jobs(live_server: LiveServer) -> None:
    job_id = submit_id(
        live_server,
        "--model-name",
        "listed",
        "--data",
        "sklearn://iris",
        "--target",
        "target",
        "--algorithm",
        "LogisticRegression",
        "--param",
        "C=0.5",
        "--tag",
        "team=cli",
    )
    result = trainyard(live_server, "list", "--model-name", "listed", "--total")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training jobs (1-1 of 1)")
    header = next(line for line in lines if "job id" in line)
    for column in ("model", "version", "algorithm", "status", "stage", "progress", "created"):
        assert column in header
    row = next(line for line in lines if job_id in line)
    assert "listed" in row
    assert "LogisticRegression" in row
    body = TrainyardClient(live_server.url).status(job_id)
    assert body["tags"] == {"team": "cli"}
    assert json.loads(json.dumps(body))["model_name"] == "listed"


def test_failing_job_makes_watch_exit_non_zero_with_the_error(live_server: LiveServer) -> None:
    (live_server.data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    job_id = submit_id(
        live_server,
        "--model-name",
        "broken",
        "--data",
        "one_class.csv",
        "--target",
        "y",
        "--algorithm",
        "LogisticRegression",
    )
    watched = trainyard(live_server, "watch", job_id, "--interval", "0.2")
    assert watched.returncode == 1, watched.stdout
    assert f"job {job_id} failed" in watched.stdout
    assert "in stage preprocessing" in watched.stdout
    assert "single class" in watched.stdout

    logs = trainyard(live_server, "logs", job_id)
    assert logs.returncode == 0
    assert "==> attempt 1 <==" in logs.stdout
    assert "Traceback (most recent call last)" in logs.stdout
    assert "single class" in logs.stdout


def test_yaml_job_file_with_search_shows_trials_and_events(live_server: LiveServer) -> None:
    result = trainyard(live_server, "submit", "examples/wine-tuning.yaml", "--watch")
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = UUID.search(result.stdout).group(0)  # type: ignore[union-attr]
    assert "best hyperparameters" in result.stdout
    trials = trainyard(live_server, "trials", job_id)
    assert trials.returncode == 0
    assert trials.stdout.count("complete") >= 2
    assert "learning_rate" in trials.stdout
    events = trainyard(live_server, "events", job_id)
    for stage in ("queued", "fetching_data", "tuning", "done"):
        assert stage in events.stdout


def test_cancel_from_the_command_line(live_server: LiveServer) -> None:
    job_id = submit_id(
        live_server,
        "--model-name",
        "slow",
        "--data",
        "sklearn://digits",
        "--target",
        "target",
        "--algorithm",
        "RandomForestClassifier",
        "--param",
        "n_estimators=3000",
    )
    cancelled = trainyard(live_server, "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    watched = trainyard(live_server, "watch", job_id, "--interval", "0.2")
    assert watched.returncode == 2, watched.stdout
    assert f"job {job_id} cancelled" in watched.stdout
    again = trainyard(live_server, "cancel", job_id)
    assert again.returncode == 1
    assert "HTTP 409" in again.stderr


def test_errors_name_the_field_and_never_crash(live_server: LiveServer, tmp_path: Path) -> None:
    bad = trainyard(
        live_server,
        "submit",
        "--model-name",
        "x",
        "--data",
        "sklearn://iris",
        "--target",
        "target",
        "--algorithm",
        "RandomForestClassifier",
        "--param",
        "n_trees=5",
    )
    assert bad.returncode == 1
    assert "HTTP 422" in bad.stderr
    assert "algorithm_config.parameters.n_trees" in bad.stderr

    missing = trainyard(live_server, "submit", "--model-name", "x")
    assert missing.returncode == 1
    assert "--data, --target, --algorithm" in missing.stderr

    broken = tmp_path / "job.yaml"
    broken.write_text("model_name: [unclosed\n")
    assert "is not valid YAML" in trainyard(live_server, "submit", str(broken)).stderr
    assert "cannot read" in trainyard(live_server, "submit", str(tmp_path / "no.json")).stderr

    unknown = trainyard(live_server, "status", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 1
    assert "HTTP 404" in unknown.stderr

    nobody = trainyard(live_server, "list", "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 1
    assert "cannot reach the server" in nobody.stderr


def test_algorithms_command_lists_and_describes(live_server: LiveServer) -> None:
    listing = trainyard(live_server, "algorithms", "--task", "regression")
    assert listing.returncode == 0
    assert "Ridge" in listing.stdout
    assert "RandomForestClassifier" not in listing.stdout
    one = trainyard(live_server, "algorithms", "RandomForestClassifier")
    assert "n_estimators" in one.stdout
    assert "an int in the range [1, inf)" in one.stdout


def test_api_key_is_sent_as_bearer_token(live_server: LiveServer) -> None:
    """The key from --api-key or TRAINYARD_API_KEY reaches the server as a bearer token
    (a loopback server that records what it is sent stands in for a key-checking one)."""
    seen: list[str | None] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"items": [], "total": 0, "limit": 20, "offset": 0}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        from_env = trainyard(live_server, "list", TRAINYARD_URL=url, TRAINYARD_API_KEY="from-env")
        from_flag = trainyard(live_server, "list", "--url", url, "--api-key", "from-flag")
    finally:
        server.shutdown()
        server.server_close()
    assert from_env.returncode == 0, from_env.stderr
    assert from_flag.returncode == 0, from_flag.stderr
    assert seen == ["Bearer from-env", "Bearer from-flag"]


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "trainyard"
    assert script.is_file(), "pip install -e . installs the trainyard console script"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("submit", "watch", "list", "download", "predict"):
        assert command in result.stdout


def test_download_and_predict(live_server: LiveServer, tmp_path: Path) -> None:
    if not has_endpoint(live_server, "get", "/v1/training-jobs/{job_id}/model"):
        pytest.skip("GET /v1/training-jobs/{job_id}/model is not on this branch yet")
    job_id = submit_id(live_server, "examples/iris.json")
    assert trainyard(live_server, "watch", job_id).returncode == 0
    target = tmp_path / "iris.skops"
    downloaded = trainyard(live_server, "download", job_id, "-o", str(target))
    assert downloaded.returncode == 0, downloaded.stderr
    assert target.read_bytes()[:2] == b"PK"  # a skops file is a zip archive
    if not has_endpoint(live_server, "post", "/v1/training-jobs/{job_id}/predictions"):
        pytest.skip("POST /v1/training-jobs/{job_id}/predictions is not on this branch yet")
    predicted = trainyard(live_server, "predict", job_id, "--file", "examples/iris-rows.json")
    assert predicted.returncode == 0, predicted.stderr
    assert "predictions" in json.loads(predicted.stdout)


def test_delete_from_the_command_line_and_the_client(live_server: LiveServer) -> None:
    flags = ["--data", "sklearn://iris", "--target", "target", "--algorithm", "LogisticRegression"]
    first = submit_id(live_server, "--model-name", "deleted", *flags)
    second = submit_id(live_server, "--model-name", "deleted", *flags)
    for job_id in (first, second):
        assert trainyard(live_server, "watch", job_id, "--interval", "0.2").returncode == 0
    deleted = trainyard(live_server, "delete", first)
    assert deleted.returncode == 0, deleted.stderr
    assert f"job {first}: deleted" in deleted.stdout
    again = trainyard(live_server, "delete", first)
    assert again.returncode == 1
    assert "HTTP 404" in again.stderr
    with TrainyardClient(live_server.url) as client:
        assert [j["job_id"] for j in client.iter_jobs(model_name="deleted")] == [second]
        client.delete_job(second)
        with pytest.raises(TrainyardAPIError) as caught:
            client.status(second)
        assert caught.value.status_code == 404
        assert list(client.iter_jobs(model_name="deleted")) == []


def test_list_pages_along_the_cursor(live_server: LiveServer) -> None:
    flags = ["--data", "sklearn://iris", "--target", "target", "--algorithm", "LogisticRegression"]
    ids = [submit_id(live_server, "--model-name", "cursor-paged", *flags) for _ in range(3)]
    first = trainyard(live_server, "list", "--model-name", "cursor-paged", "--limit", "2")
    assert first.returncode == 0, first.stderr
    token = re.search(r"--page-token (\S+)", first.stdout)
    assert token, first.stdout
    rest = trainyard(
        live_server, "list", "--model-name", "cursor-paged", "--page-token", token.group(1)
    )
    assert rest.returncode == 0, rest.stderr
    assert ids[0] in rest.stdout
    assert ids[2] not in rest.stdout
    assert "--page-token" not in rest.stdout
    with TrainyardClient(live_server.url) as client:
        walked = [j["job_id"] for j in client.iter_jobs(page_size=1, model_name="cursor-paged")]
        assert walked == ids[::-1]
        with pytest.raises(TrainyardAPIError) as caught:
            client.list_jobs(page_token="nonsense")
        assert [e["field"] for e in caught.value.field_errors] == ["page_token"]


def test_client_raises_problem_documents(live_server: LiveServer) -> None:
    with TrainyardClient(live_server.url) as client, pytest.raises(TrainyardAPIError) as caught:
        client.submit({"model_name": "x"})
    assert caught.value.status_code == 422
    assert {e["field"] for e in caught.value.field_errors} >= {
        "data_source_config",
        "algorithm_config",
    }


def test_watch_of_an_unreachable_server_fails_at_once(live_server: LiveServer) -> None:
    result = trainyard(
        live_server,
        "watch",
        "00000000-0000-0000-0000-000000000000",
        "--url",
        "http://127.0.0.1:9",
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr


def test_watch_timeout_exits_3(live_server: LiveServer) -> None:
    job_id = submit_id(
        live_server,
        "--model-name",
        "slow-watch",
        "--data",
        "sklearn://digits",
        "--target",
        "target",
        "--algorithm",
        "RandomForestClassifier",
        "--param",
        "n_estimators=3000",
    )
    try:
        result = trainyard(live_server, "watch", job_id, "--timeout", "1", "--interval", "0.2")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "after 1.0s" in result.stdout
    finally:
        trainyard(live_server, "cancel", job_id)


def test_events_follow_streams_every_event_trial_and_log_line_to_the_end(
    live_server: LiveServer,
) -> None:
    job_id = submit_id(live_server, "examples/iris.json")
    result = trainyard(live_server, "events", job_id, "--follow", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [f["event"] for f in frames]
    assert kinds[0] == "status"
    assert kinds[-1] == "status"
    assert frames[-1]["data"]["status"] == "completed"
    assert "log" in kinds
    streamed = [(f["data"]["status"], f["data"]["stage"]) for f in frames if f["event"] == "event"]
    polled = json.loads(trainyard(live_server, "events", job_id, "--json").stdout)
    assert streamed == [(e["status"], e["stage"]) for e in polled]


def test_evaluation_from_the_client_and_the_command_line(live_server: LiveServer) -> None:
    job_id = submit_id(live_server, "examples/iris.json")
    assert trainyard(live_server, "watch", job_id).returncode == 0
    with TrainyardClient(live_server.url) as client:
        report = client.evaluation(job_id)
        with pytest.raises(TrainyardAPIError) as caught:
            client.evaluation("00000000-0000-4000-8000-000000000000")
    assert caught.value.status_code == 404
    assert report["job_id"] == job_id
    assert sum(map(sum, report["classification"]["confusion_matrix"])) == report["rows"]

    shown = trainyard(live_server, "evaluation", job_id)
    assert shown.returncode == 0, shown.stderr
    assert "confusion matrix" in shown.stdout
    assert "permutation importance" in shown.stdout
    assert "petal length (cm)" in shown.stdout
    raw = trainyard(live_server, "evaluation", job_id, "--json")
    assert json.loads(raw.stdout) == report
