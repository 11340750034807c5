"""Searches whose trials are units of work, with real processes: the API killed with SIGKILL
mid-search (local executor), a small job submitted behind a long search on two slots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.fixtures.app import make_settings
from tests.fixtures.database import alembic_upgrade
from tests.fixtures.jobs import job_request
from tests.fixtures.servers import LiveServer, settings_env

pytestmark = [pytest.mark.slow]

FINISHED = ("complete", "pruned", "failed")


def search_request(trials: int, *, n_estimators: int = 40, parallel: int = 2) -> dict[str, Any]:
    return job_request(
        model_name="search",
        data_source_config={"path": "sklearn://digits", "target_column": "target"},
        algorithm_config={
            "name": "RandomForestClassifier",
            "parameters": {"n_estimators": n_estimators},
        },
        hyperparameter_tuning_config={
            "strategy": "random",
            "search_space": {"max_depth": {"type": "int", "low": 4, "high": 30}},
            "max_trials": trials,
            "cv_folds": 3,
            "parallel_trials": parallel,
        },
        resource_config={"max_runtime_seconds": 900},
    )


def local_settings(tmp_path: Path, **overrides: Any) -> Settings:
    data_root = tmp_path / "data"
    data_root.mkdir(exist_ok=True)
    database = f"sqlite:///{tmp_path / 'trainyard.db'}"
    alembic_upgrade(database)
    values: dict[str, Any] = {
        "lease_seconds": 3.0,
        "reaper_interval_seconds": 0.5,
        "poll_interval_seconds": 0.1,
        "max_concurrent_jobs": 2,
        **overrides,
    }
    return make_settings(database, tmp_path, data_root, **values)


def wait_for(client: httpx.Client, job_id: str, test: Any, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        trials: list[dict[str, Any]] = client.get(f"/v1/training-jobs/{job_id}/trials").json()
        if test(status, trials):
            return {"status": status, "trials": trials}
        assert time.monotonic() < deadline, (status, trials)
        time.sleep(0.1)


def finished(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in trials if t["state"] in FINISHED]


def test_kill_9_of_the_api_mid_search_resumes_keeping_every_finished_trial(
    tmp_path: Path,
) -> None:
    settings = local_settings(tmp_path)
    env = settings_env(settings)
    first = LiveServer(env, tmp_path / "server-1.log").start()
    try:
        with first.client() as client:
            response = client.post("/v1/training-jobs", json=search_request(14))
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            seen = wait_for(client, job_id, lambda s, t: len(finished(t)) >= 4)
        assert seen["status"]["status"] == "running"
        assert first.process is not None
        first.process.kill()
        first.process.wait()
    finally:
        first.stop()
    before = {t["number"]: t for t in finished(seen["trials"])}

    with LiveServer(env, tmp_path / "server-2.log").start() as second, second.client() as client:
        done = wait_for(client, job_id, lambda s, t: s["status"] in ("completed", "failed"))
    status, trials = done["status"], done["trials"]
    assert status["status"] == "completed", status
    assert status["attempt"] == 2
    numbers = [t["number"] for t in trials]
    assert sorted(numbers) == list(range(14))  # unique, none lost, none extra
    assert len(finished(trials)) == 14  # exactly max_trials finished
    after = {t["number"]: t for t in trials}
    for number, trial in before.items():
        assert after[number] == trial  # finished before the kill: there, unchanged
    assert any(t["attempt"] == 2 for t in trials)  # the rest ran after the restart
    assert (
        status["best_hyperparameters"]
        == max(finished(trials), key=lambda t: t["mean_score"])["params"]
    )


def test_a_small_job_behind_a_long_search_on_two_slots_is_done_within_seconds(
    tmp_path: Path,
) -> None:
    settings = local_settings(tmp_path, lease_seconds=10.0)
    with LiveServer(settings_env(settings), tmp_path / "server.log").start() as server:
        with server.client() as client:
            search = client.post("/v1/training-jobs", json=search_request(200, n_estimators=60))
            assert search.status_code == 202, search.text
            search_id = search.json()["job_id"]
            # Both slots busy with the search: its attempt and a trial beside it.
            wait_for(
                client,
                search_id,
                lambda s, t: (
                    s["stage"] == "tuning" and sum(x["state"] == "running" for x in t) >= 2
                ),
            )
            small = client.post(
                "/v1/training-jobs",
                json=job_request(
                    data_source_config={"path": "sklearn://iris", "target_column": "target"},
                    algorithm_config={"name": "LogisticRegression"},
                ),
            )
            submitted = time.monotonic()
            small_id = small.json()["job_id"]
            done = wait_for(client, small_id, lambda s, t: s["status"] == "completed", 60)
            waited = time.monotonic() - submitted
            search_now = client.get(f"/v1/training-jobs/{search_id}").json()
            assert search_now["status"] == "running", search_now  # it did not wait for it
            assert done["status"]["status"] == "completed"
            assert waited < 30, waited
            cancel = client.post(f"/v1/training-jobs/{search_id}/cancel")
            assert cancel.status_code == 202
            wait_for(client, search_id, lambda s, t: s["status"] == "cancelled", 60)


@pytest.mark.postgres
def test_kill_9_of_a_celery_worker_mid_search_completes_on_the_other_keeping_its_trials(
    tmp_path: Path, postgres_database: str
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.execution.celery_workers import flush_redis, redis_or_skip, start_workers
    from tests.fixtures.database import truncate_postgres

    redis_url = redis_or_skip()
    truncate_postgres(postgres_database)
    data_root = tmp_path / "data"
    data_root.mkdir()
    settings = make_settings(
        postgres_database,
        tmp_path,
        data_root,
        executor="celery",
        celery_broker_url=redis_url,
        celery_queue=f"search-{time.monotonic_ns()}",
        lease_seconds=3.0,
        reaper_interval_seconds=0.5,
        celery_republish_after_seconds=60.0,
    )
    pool = start_workers(settings, tmp_path, 2)
    try:
        with TestClient(create_app(settings)) as api:
            client: Any = api
            job_id = client.post("/v1/training-jobs", json=search_request(14)).json()["job_id"]
            seen = wait_for(
                client,
                job_id,
                lambda s, t: (
                    len(finished(t)) >= 4
                    and len({x["worker"].split(" pid=")[0] for x in finished(t)}) >= 2
                ),
            )
            # Trials ran on both workers; now kill the one whose attempt coordinates.
            owner = client.get(f"/v1/training-jobs/{job_id}/events").json()[1]["message"]
            victim = next(w for w in pool if f":{w.pid}:" in owner)
            victim.kill()
            done = wait_for(client, job_id, lambda s, t: s["status"] in ("completed", "failed"))
    finally:
        for worker in pool:
            worker.stop()
        flush_redis()
    status, trials = done["status"], done["trials"]
    assert status["status"] == "completed", status
    assert status["attempt"] == 2
    assert sorted(t["number"] for t in trials) == list(range(14))
    assert len(finished(trials)) == 14
    after = {t["number"]: t for t in trials}
    for trial in finished(seen["trials"]):
        assert after[trial["number"]] == trial
