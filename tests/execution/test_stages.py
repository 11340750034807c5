"""An attempt's steps are held for a moment and written together (``StageWriter``): one
fenced transaction for the steps of that moment, an event of its own time and order for each
stage entered, nothing written for an attempt that lost its claim or died holding steps."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from app.config import Settings
from app.core.db import create_db_engine
from app.execution.spare import SparePool
from app.execution.stages import LostClaim, StageWriter
from app.execution.supervisor import Supervisor, attempt_payload
from app.jobs.lifecycle import STAGE_PROGRESS, AttemptOutcome, Claim, JobStage, JobStatus
from app.jobs.repository import JobRepository
from app.jobs.schemas import TrainingJobRequest
from app.service import MLModelTrainingService
from tests.fixtures.jobs import job_request

# Long enough that the writer's thread never writes during a test that does not wait for it.
LONG_HOLD = 60.0


def new_job() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "model_name": "held",
        "model_version": None,
        "algorithm": "DecisionTreeClassifier",
        "experiment_name": None,
        "tags": {},
        "request": {},
        "request_hash": "0" * 64,
        "tenant": "",
        "idempotency_key": None,
        "max_attempts": 2,
        "max_runtime_seconds": 60,
    }


def claimed(repository: JobRepository) -> Claim:
    job = repository.create_job(new_job(), pending_limit=100)
    claim = repository.claim(owner="test", lease_seconds=60, job_id=job.id)
    assert claim is not None
    return claim


def step(writer: StageWriter, stage: JobStage, message: str | None = None) -> None:
    writer.step(stage, STAGE_PROGRESS[stage], message, new_stage=True)


def events(repository: JobRepository, claim: Claim) -> list[tuple[str, str]]:
    return [(e.status, e.stage) for e in repository.list_events(claim.job_id)]


def test_steps_of_a_moment_and_the_outcome_are_one_transaction_with_an_event_each(
    repository: JobRepository,
) -> None:
    claim = claimed(repository)
    commits = []
    event.listen(repository.engine, "commit", lambda _connection: commits.append(1))
    writer = StageWriter(repository, claim.job_id, claim.attempt, hold_seconds=LONG_HOLD)
    step(writer, JobStage.PREPROCESSING, "read 150 rows")
    step(writer, JobStage.TRAINING)
    writer.step(JobStage.TRAINING, 50.0, None, new_stage=False, fields={"eta_seconds": 1.0})
    step(writer, JobStage.EVALUATING)
    step(writer, JobStage.STORING_ARTIFACTS)
    held = repository.get_job(claim.job_id)
    assert held is not None
    assert held.stage == JobStage.FETCHING_DATA

    assert writer.finish(status=JobStatus.COMPLETED, stage=JobStage.DONE, message="trained")
    assert len(commits) == 1
    recorded = repository.list_events(claim.job_id)
    assert [(e.status, e.stage) for e in recorded] == [
        ("pending", "queued"),
        ("running", "fetching_data"),
        ("running", "preprocessing"),
        ("running", "training"),
        ("running", "evaluating"),
        ("running", "storing_artifacts"),
        ("completed", "done"),
    ]
    assert [e.id for e in recorded] == sorted(e.id for e in recorded)
    times = [e.created_at for e in recorded]
    assert times == sorted(times)  # each its own time, in the order entered
    assert [e.progress for e in recorded][2:6] == [10.0, 15.0, 85.0, 90.0]
    assert recorded[2].message == "read 150 rows"
    done = repository.get_job(claim.job_id)
    assert done is not None
    assert (done.status, done.stage, done.progress) == ("completed", "done", 100.0)
    assert done.eta_seconds is None


def test_a_held_step_is_written_by_itself_when_nothing_follows(
    repository: JobRepository,
) -> None:
    claim = claimed(repository)
    writer = StageWriter(repository, claim.job_id, claim.attempt, hold_seconds=0.05)
    step(writer, JobStage.TRAINING, "fitting")
    deadline = time.monotonic() + 30
    while (job := repository.get_job(claim.job_id)) is not None and job.stage != "training":
        assert time.monotonic() < deadline, "the held step was never written"
        time.sleep(0.02)
    assert job is not None
    assert (job.progress, job.message) == (15.0, "fitting")
    assert events(repository, claim)[-1] == ("running", "training")
    writer.close()


def test_an_attempt_that_lost_its_claim_writes_none_of_what_it_held(
    repository: JobRepository,
) -> None:
    claim = claimed(repository)
    writer = StageWriter(repository, claim.job_id, claim.attempt, hold_seconds=LONG_HOLD)
    step(writer, JobStage.PREPROCESSING)
    assert repository.requeue(claim.job_id, claim.attempt, message="reaped")
    step(writer, JobStage.TRAINING)
    with pytest.raises(LostClaim):
        writer.flush()
    step(writer, JobStage.EVALUATING)
    assert not writer.finish(status=JobStatus.COMPLETED, stage=JobStage.DONE, message="late")
    assert events(repository, claim) == [
        ("pending", "queued"),
        ("running", "fetching_data"),
        ("pending", "queued"),
    ]


def _hold_and_die(url: str, job_id: uuid.UUID, attempt: int) -> None:
    repository = JobRepository(create_db_engine(url))
    writer = StageWriter(repository, job_id, attempt, hold_seconds=LONG_HOLD)
    step(writer, JobStage.PREPROCESSING)
    step(writer, JobStage.TRAINING)
    os._exit(9)


def test_a_process_that_dies_holding_steps_has_not_claimed_them(
    repository: JobRepository, database_url: str
) -> None:
    claim = claimed(repository)
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_and_die, args=(database_url, claim.job_id, claim.attempt)
    )
    child.start()
    child.join()
    assert child.exitcode == 9
    job = repository.get_job(claim.job_id)
    assert job is not None
    assert (job.status, job.stage) == ("running", "fetching_data")
    assert events(repository, claim)[-1] == ("running", "fetching_data")


def test_a_failure_records_the_stage_it_failed_in_then_the_outcome(
    repository: JobRepository,
) -> None:
    claim = claimed(repository)
    writer = StageWriter(repository, claim.job_id, claim.attempt, hold_seconds=LONG_HOLD)
    step(writer, JobStage.PREPROCESSING)
    step(writer, JobStage.TRAINING)
    assert writer.finish(
        status=JobStatus.FAILED,
        message="ValueError in stage training: bad",
        error=("TrainingJobError", "training", "bad"),
    )
    assert events(repository, claim)[-3:] == [
        ("running", "preprocessing"),
        ("running", "training"),
        ("failed", "training"),
    ]
    job = repository.get_job(claim.job_id)
    assert job is not None
    assert (job.status, job.stage, job.error_stage) == (
        "failed",
        "training",
        "training",
    )


@pytest.mark.parametrize("spares", [0, 1])
def test_the_supervisor_hears_of_a_committed_outcome_and_only_then(
    settings: Settings, spares: int
) -> None:
    service = MLModelTrainingService(settings=settings)
    pool = SparePool(size=spares)
    pool.prime(attempt_payload(service.payload))
    try:
        outcomes = []
        for lose_claim in (False, True):
            status, _ = service.jobs.record(
                TrainingJobRequest.model_validate(job_request()), idempotency_key=None, tenant=""
            )
            claim = service.repository.claim(owner="test", lease_seconds=60, job_id=status.job_id)
            assert claim is not None
            if lose_claim:  # as a reaper would: the attempt's first write finds it gone
                assert service.repository.requeue(claim.job_id, claim.attempt, message="reaped")
            heard = []
            supervisor = Supervisor(
                service.repository,
                claim,
                service.payload,
                lease_seconds=60,
                poll_interval=0.1,
                owner="test",
                spares=pool,
                on_recorded=lambda: heard.append(1),  # noqa: B023  (called within the loop)
            )
            outcome = supervisor.run()
            outcomes.append((outcome, len(heard), supervisor.recorded.is_set()))
        assert outcomes == [
            (AttemptOutcome.RECORDED, 1, True),
            (AttemptOutcome.LOST, 0, False),
        ]
        done = service.repository.get_job(claim.job_id)
        assert done is not None
        assert done.status == "pending"  # the attempt that lost its claim wrote nothing
    finally:
        pool.close()
        service.close()
