"""Algorithm discovery, job logs, Prometheus metrics, docs and JSON logs, on SQLite and
PostgreSQL through the real app."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sklearn.ensemble import RandomForestClassifier

from app.config import Settings
from app.core.logging_setup import JsonFormatter, configure_logging, set_process_job
from app.core.openapi_examples import OPERATION_EXAMPLES
from app.trainer.algorithms import registry
from app.trainer.catalog import json_safe
from tests.conftest import job_request, wait_for_job


def submit(client: TestClient, **overrides: object) -> str:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


# -- algorithms ---------------------------------------------------------------------------


def test_algorithms_lists_every_allowed_estimator_with_parameters(client: TestClient) -> None:
    body = client.get("/v1/algorithms").json()
    names = [item["name"] for item in body["items"]]
    assert names == sorted(registry())
    assert body["total"] == len(names)
    forest = next(i for i in body["items"] if i["name"] == "RandomForestClassifier")
    assert forest["framework"] == "scikit-learn"
    assert forest["task"] == "classification"
    assert forest["module"].startswith("sklearn.ensemble")
    params = {p["name"]: p for p in forest["parameters"]}
    assert set(params) == set(RandomForestClassifier().get_params(deep=False))
    assert params["n_estimators"]["default"] == 100
    assert params["n_estimators"]["types"] == ["integer"]
    assert params["n_estimators"]["constraints"] == ["an int in the range [1, inf)"]
    assert params["criterion"]["options"] == ["entropy", "gini", "log_loss"]
    assert params["max_depth"]["types"] == ["integer", "null"]
    assert params["bootstrap"]["types"] == ["boolean"]
    assert "null" in params["random_state"]["types"]


def test_algorithms_filter_by_task_and_describe_one(client: TestClient) -> None:
    regressors = client.get("/v1/algorithms", params={"task": "regression"}).json()["items"]
    assert regressors
    assert {i["task"] for i in regressors} == {"regression"}
    assert "Ridge" in {i["name"] for i in regressors}
    one = client.get("/v1/algorithms/LogisticRegression")
    assert one.status_code == 200
    assert {p["name"] for p in one.json()["parameters"]} >= {"C", "penalty", "max_iter"}


def test_unknown_algorithm_is_a_404_problem_with_a_hint(client: TestClient) -> None:
    response = client.get("/v1/algorithms/RandomForest")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "RandomForestClassifier" in response.json()["detail"]
    bad_task = client.get("/v1/algorithms", params={"task": "clustering"})
    assert bad_task.status_code == 422
    assert bad_task.json()["errors"][0]["field"] == "task"


def test_every_default_is_json_safe() -> None:
    assert json_safe(float("nan")) == "nan"
    assert json_safe(float("-inf")) == "-inf"
    assert json_safe((1, 2.5)) == [1, 2.5]
    assert json_safe(dict) == "dict"
    from app.trainer.catalog import catalog

    text = json.dumps(catalog(), allow_nan=False)  # raises on NaN or an unknown type
    assert "HistGradientBoostingClassifier" in text
    for item in catalog():
        for parameter in item["parameters"]:
            default = parameter["default"]
            assert not (isinstance(default, float) and not math.isfinite(default))


# -- logs ---------------------------------------------------------------------------------


def test_completed_job_log_shows_its_stages(client: TestClient, settings: Settings) -> None:
    job_id = submit(client)
    assert wait_for_job(client, job_id)["status"] == "completed"
    path = settings.artifact_root.resolve() / job_id / "attempt-1.log"
    # The child records the job as completed; its supervisor adds the last line just after.
    deadline = time.monotonic() + 10
    while "INFO supervisor:" not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.get(f"/v1/training-jobs/{job_id}/logs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert text.startswith("==> attempt 1 <==\n")
    assert f"attempt 1 of job {job_id} started" in text
    order = [text.index(f"stage {s}") for s in ("preprocessing", "training", "storing_artifacts")]
    assert order == sorted(order)
    assert "completed: trained RandomForestClassifier" in text
    assert path.read_text() in text
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 1}).text == (
        path.read_text()
    )


def test_failed_job_log_keeps_the_traceback(client: TestClient, data_root: Path) -> None:
    (data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    job_id = submit(
        client,
        data_source_config={"path": "one_class.csv", "target_column": "y"},
        algorithm_config={"name": "LogisticRegression"},
    )
    assert wait_for_job(client, job_id)["status"] == "failed"
    text = client.get(f"/v1/training-jobs/{job_id}/logs").text
    assert "ERROR" in text
    assert "failed in stage preprocessing" in text
    assert "Traceback (most recent call last)" in text
    assert "single class" in text


def test_logs_of_unknown_job_or_attempt_are_404(client: TestClient) -> None:
    unknown = client.get(f"/v1/training-jobs/{uuid.uuid4()}/logs")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/training-jobs/not-a-uuid/logs").status_code == 422
    job_id = submit(client)
    wait_for_job(client, job_id)
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 7}).status_code == 404
    assert client.get(f"/v1/training-jobs/{job_id}/logs", params={"attempt": 0}).status_code == 422


# -- metrics ------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        base, _, rest = metric.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if base == name and got == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


def test_job_metrics_change_as_jobs_run(client: TestClient, data_root: Path) -> None:
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert sample(before.text, "trainyard_jobs", status="completed") == 0
    assert sample(before.text, "trainyard_jobs", status="pending") == 0
    assert sample(before.text, "trainyard_job_queue_wait_seconds_count") == 0

    (data_root / "one_class.csv").write_text("a,b,y\n" + "1,2,yes\n" * 20)
    done = submit(client)
    failed = submit(
        client,
        data_source_config={"path": "one_class.csv", "target_column": "y"},
        algorithm_config={"name": "LogisticRegression"},
    )
    during = client.get("/metrics").text
    assert (
        sum(sample(during, "trainyard_jobs", status=s) for s in ("pending", "running", "completed"))
        + sample(during, "trainyard_jobs", status="failed")
        == 2
    )

    assert wait_for_job(client, done)["status"] == "completed"
    assert wait_for_job(client, failed)["status"] == "failed"
    after = client.get("/metrics").text
    assert sample(after, "trainyard_jobs", status="completed") == 1
    assert sample(after, "trainyard_jobs", status="failed") == 1
    assert sample(after, "trainyard_jobs", status="pending") == 0
    assert sample(after, "trainyard_job_queue_wait_seconds_count") == 2
    assert sample(after, "trainyard_job_queue_wait_seconds_bucket", le="+Inf") == 2
    assert sample(after, "trainyard_job_run_duration_seconds_count", status="completed") == 1
    assert sample(after, "trainyard_job_run_duration_seconds_count", status="failed") == 1
    run_sum = sample(after, "trainyard_job_run_duration_seconds_sum", status="completed")
    assert 0 < run_sum < 120


def test_http_metrics_use_route_templates(client: TestClient) -> None:
    job_id = submit(client)
    client.get(f"/v1/training-jobs/{job_id}")
    client.get(f"/v1/training-jobs/{uuid.uuid4()}")
    client.get("/no/such/page")
    text = client.get("/metrics").text
    route = "/v1/training-jobs/{job_id}"
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route=route, status="200") >= 1
    )
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route=route, status="404") == 1
    )
    assert (
        sample(
            text,
            "trainyard_http_requests_total",
            method="POST",
            route="/v1/training-jobs",
            status="202",
        )
        == 1
    )
    assert (
        sample(text, "trainyard_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert job_id not in text  # no label per job id
    assert (
        sample(text, "trainyard_http_request_duration_seconds_count", method="GET", route=route)
        >= 2
    )


# -- docs ---------------------------------------------------------------------------------


def test_docs_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets
        for asset in assets:
            assert asset.startswith("/static/docs/"), asset
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000
        assert "cdn" not in html.lower()
        assert "fonts.googleapis" not in html


def test_every_operation_has_request_and_response_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (method, path) not in OPERATION_EXAMPLES:
                missing.append(f"{method.upper()} {path}: no entry in app/docs_examples.py")
                continue
            # Examples are asked of JSON bodies and text answers; a file upload or a binary
            # download has nothing to show.
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body and not body["application/json"].get("examples"):
                missing.append(f"{method.upper()} {path}: request")
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, (method, path)
            for code in success:
                content = operation["responses"][code].get("content", {})
                showable = {k: v for k, v in content.items() if "json" in k or "text" in k}
                if showable and not any("example" in m for m in showable.values()):
                    missing.append(f"{method.upper()} {path}: response {code}")
    assert not missing, missing
    submit_op = schema["paths"]["/v1/training-jobs"]["post"]
    examples = submit_op["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"iris", "tuning", "csv"}


def test_request_examples_are_accepted_by_the_api(client: TestClient, data_root: Path) -> None:
    (data_root / "customers.csv").write_text(
        "age,plan,monthly_spend,churned\n"
        + "".join(f"{20 + i},{'ab'[i % 2]},{10 + i},{i % 2}\n" for i in range(40))
    )
    examples = OPERATION_EXAMPLES[("post", "/v1/training-jobs")]["request"]
    for name, example in examples.items():
        response = client.post("/v1/training-jobs", json=example["value"])
        assert response.status_code == 202, (name, response.text)
        client.post(f"/v1/training-jobs/{response.json()['job_id']}/cancel")


# -- server logs --------------------------------------------------------------------------


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


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_still_answer(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_cancelled_attempt_log_says_how_it_ended(client: TestClient) -> None:
    job_id = submit(
        client,
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={"name": "RandomForestClassifier", "parameters": {"n_estimators": 5000}},
    )
    wait_for_job(client, job_id, statuses={"running"})
    deadline = time.monotonic() + 30
    while "stage training" not in client.get(f"/v1/training-jobs/{job_id}/logs").text:
        assert time.monotonic() < deadline, "the attempt never reached training"
        time.sleep(0.05)
    assert client.post(f"/v1/training-jobs/{job_id}/cancel").status_code == 202
    assert wait_for_job(client, job_id)["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while "supervisor:" not in (text := client.get(f"/v1/training-jobs/{job_id}/logs").text):
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    last = text.rstrip().splitlines()[-1]
    assert "cancellation was requested" in last
    assert "(outcome: cancelled)" in last
