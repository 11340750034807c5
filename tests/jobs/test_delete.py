"""DELETE /v1/training-jobs/{id} and retention: the job's rows, model and logs go, nothing
else does, a running job is refused, the tally stays right, and a reader at the same time
sees the whole job or none of it."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.core.auth import OPEN_TENANT, hash_key
from app.core.db import create_db_engine
from app.core.exceptions import ResourceNotFoundError
from app.jobs.models import JobEvent, TrainingJob, Trial, utcnow
from app.jobs.repository import JobNotFinished, JobRepository
from app.jobs.retention import RetentionSweeper
from app.jobs.service import JobService
from app.main import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.jobs import endless_job, job_request, wait_for_job
from tests.jobs.test_tally import new_job

SEARCH = {"strategy": "grid", "search_space": {"n_estimators": [5, 10]}, "cv_folds": 2}


def finished_job(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/training-jobs", json=job_request(**overrides))
    assert response.status_code == 202, response.text
    done = wait_for_job(client, response.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done
    return done


def rows_of(client: TestClient, job_id: str) -> dict[str, int]:
    repository = client.app.state.service.repository  # type: ignore[attr-defined]
    key = uuid.UUID(job_id)
    with repository.reader() as session:
        return {
            table.__tablename__: int(
                session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where((table.id if table is TrainingJob else table.job_id) == key)
                )
                or 0
            )
            for table in (TrainingJob, JobEvent, Trial)
        }


def jobs_metric(client: TestClient, status: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'trainyard_jobs{{status="{status}"}}'):
            return float(line.rpartition(" ")[2])
    raise AssertionError(f"no trainyard_jobs for {status}")


def test_delete_removes_rows_model_and_logs_and_nothing_else(
    client: TestClient, settings: Settings
) -> None:
    doomed = finished_job(client, hyperparameter_tuning_config=SEARCH)
    kept = finished_job(client)
    folder = Path(settings.artifact_root) / doomed["job_id"]
    assert any(folder.glob("*.log"))
    assert any(folder.glob("*.skops"))
    before = rows_of(client, doomed["job_id"])
    assert before["training_job"] == 1
    assert before["job_event"] > 1
    assert before["trial"] == 2
    kept_rows = rows_of(client, kept["job_id"])
    assert jobs_metric(client, "completed") == 2

    response = client.delete(f"/v1/training-jobs/{doomed['job_id']}")
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert rows_of(client, doomed["job_id"]) == {"training_job": 0, "job_event": 0, "trial": 0}
    assert not folder.exists()
    assert client.get(f"/v1/training-jobs/{doomed['job_id']}").status_code == 404
    assert client.get(f"/v1/training-jobs/{doomed['job_id']}/events").status_code == 404
    again = client.delete(f"/v1/training-jobs/{doomed['job_id']}")
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    # The other job is whole: rows, files, status.
    assert rows_of(client, kept["job_id"]) == kept_rows
    assert (Path(settings.artifact_root) / kept["job_id"]).is_dir()
    assert client.get(f"/v1/training-jobs/{kept['job_id']}").json() == kept
    assert jobs_metric(client, "completed") == 1


def test_a_pending_or_running_job_is_refused_with_409(client: TestClient) -> None:
    job_id = client.post("/v1/training-jobs", json=endless_job()).json()["job_id"]
    wait_for_job(client, job_id, statuses={"running"}, timeout=60)
    refused = client.delete(f"/v1/training-jobs/{job_id}")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "running" in refused.json()["detail"]
    assert rows_of(client, job_id)["training_job"] == 1
    client.post(f"/v1/training-jobs/{job_id}/cancel")
    assert wait_for_job(client, job_id, timeout=60)["status"] == "cancelled"
    assert client.delete(f"/v1/training-jobs/{job_id}").status_code == 204
    assert jobs_metric(client, "cancelled") == 0
    assert jobs_metric(client, "running") == 0


def test_another_tenants_job_and_a_malformed_id_are_not_deleted(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        api_keys=[f"team-a:{hash_key('ka')}", f"team-b:{hash_key('kb')}"],
    )
    with TestClient(create_app(settings)) as client:
        owner = {"Authorization": "Bearer ka"}
        response = client.post("/v1/training-jobs", json=job_request(), headers=owner)
        job_id = response.json()["job_id"]
        wait_for_job(client, job_id, headers=owner, timeout=120)
        other = client.delete(f"/v1/training-jobs/{job_id}", headers={"Authorization": "Bearer kb"})
        assert other.status_code == 404
        assert client.delete("/v1/training-jobs/nope", headers=owner).status_code == 422
        assert client.get(f"/v1/training-jobs/{job_id}", headers=owner).status_code == 200


def test_a_concurrent_reader_sees_the_whole_job_or_none_of_it(client: TestClient) -> None:
    job = finished_job(client)
    jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
    key = uuid.UUID(job["job_id"])
    events = len(jobs.events(key, tenant=OPEN_TENANT))
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def read() -> None:
        gone = False
        while not stop.is_set():
            try:
                status = jobs.get_status(key, tenant=OPEN_TENANT)
                seen = jobs.events(key, tenant=OPEN_TENANT)
            except ResourceNotFoundError:
                gone = True
                continue
            reads[0] += 1
            if gone:
                problems.append("the job came back after it was gone")
            if status.model_dump(mode="json") != job or len(seen) != events:
                problems.append(f"half a job: {status} with {len(seen)} events")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)
    jobs.delete(key, tenant=OPEN_TENANT)
    time.sleep(0.3)
    stop.set()
    for reader in readers:
        reader.join(10)
    assert reads[0] > 0
    assert problems == []


def test_retention_deletes_old_finished_jobs_in_batches_and_keeps_the_rest(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, retention_days=1.0, retention_batch_size=2
    )
    with TestClient(create_app(settings)) as client:
        old = [finished_job(client)["job_id"] for _ in range(3)]
        running = client.post("/v1/training-jobs", json=endless_job()).json()["job_id"]
        wait_for_job(client, running, statuses={"running"}, timeout=60)
        jobs: JobService = client.app.state.jobs  # type: ignore[attr-defined]
        # A sweep a day and a minute from now: the three finished jobs are past retention.
        sweeper = RetentionSweeper(jobs=jobs, settings=settings)
        assert sweeper.sweep(utcnow() + timedelta(days=1, minutes=1)) == 3
        for job_id in old:
            assert client.get(f"/v1/training-jobs/{job_id}").status_code == 404
            assert not (Path(settings.artifact_root) / job_id).exists()
        assert client.get(f"/v1/training-jobs/{running}").json()["status"] == "running"
        assert jobs_metric(client, "completed") == 0
        assert jobs_metric(client, "running") == 1
        client.post(f"/v1/training-jobs/{running}/cancel")
        wait_for_job(client, running, timeout=60)


@pytest.mark.parametrize("days", [0.00002])  # 1.7 seconds
def test_the_retention_thread_of_the_api_deletes_expired_jobs(
    database_url: str, tmp_path: Path, data_root: Path, days: float
) -> None:
    settings = make_settings(
        database_url, tmp_path, data_root, retention_days=days, retention_interval_seconds=0.2
    )
    with TestClient(create_app(settings)) as client:
        job_id = finished_job(client)["job_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/v1/training-jobs/{job_id}").status_code == 200:
            assert time.monotonic() < deadline, "the retention thread never deleted the job"
            time.sleep(0.1)
        assert not (Path(settings.artifact_root) / job_id).exists()


def test_a_pending_job_is_refused_and_kept(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        repository = JobRepository(engine)
        job = repository.create_job(new_job(OPEN_TENANT), pending_limit=10)
        with pytest.raises(JobNotFinished) as refused:
            repository.delete_job(job.id, OPEN_TENANT)
        assert refused.value.status == "pending"
        assert repository.get_job(job.id) is not None
        assert repository.statistics().jobs_by_status["pending"] == 1
    finally:
        engine.dispose()
