"""The claim, on SQLite (read, then change) and PostgreSQL (one statement with its select as a
CTE): the oldest pending job first, a new attempt with its lease and deadline, its event, the
tally moved, and no job taken twice by concurrent claimers."""

from __future__ import annotations

import threading
from datetime import timedelta

from app.jobs.lifecycle import Claim, JobStage, JobStatus
from app.jobs.repository import JobRepository
from tests.jobs.test_tally import assert_same, counted, new_job


def test_a_claim_takes_the_oldest_pending_job_and_starts_its_attempt(
    repository: JobRepository,
) -> None:
    jobs = [repository.create_job(new_job("team-c"), pending_limit=100) for _ in range(3)]
    claim = repository.claim(owner="worker-1", lease_seconds=30)
    assert claim is not None
    assert claim.job_id == jobs[0].id
    assert (claim.attempt, claim.max_attempts, claim.max_runtime_seconds) == (1, 2, 60)
    assert claim.search is False
    row = repository.get_job(jobs[0].id)
    assert row is not None
    assert (row.status, row.stage) == (JobStatus.RUNNING.value, JobStage.FETCHING_DATA.value)
    assert row.lease_owner == "worker-1"
    assert row.started_at is not None
    assert row.lease_expires_at is not None
    assert row.deadline_at == claim.deadline_at == row.started_at + timedelta(seconds=60)
    assert row.lease_expires_at == row.started_at + timedelta(seconds=30)
    assert row.completed_at is None
    assert row.message is None
    last = repository.list_events(jobs[0].id)[-1]
    assert (last.status, last.attempt) == (JobStatus.RUNNING.value, 1)
    assert last.message == "attempt 1 of 2 started on worker-1"

    assert repository.claim(owner="worker-1", lease_seconds=30, job_id=jobs[0].id) is None
    second = repository.claim(owner="worker-2", lease_seconds=30, job_id=jobs[2].id)
    assert second is not None
    assert second.job_id == jobs[2].id
    third = repository.claim(owner="worker-2", lease_seconds=30)
    assert third is not None
    assert third.job_id == jobs[1].id
    assert repository.claim(owner="worker-2", lease_seconds=30) is None


def test_a_requeued_job_is_claimed_again_with_the_next_attempt_and_the_tally_follows(
    repository: JobRepository,
) -> None:
    job = repository.create_job(new_job(""), pending_limit=100)
    first = repository.claim(owner="worker-1", lease_seconds=30)
    assert first is not None
    assert repository.requeue(job.id, first.attempt, message="worker lost")
    again = repository.claim(owner="worker-2", lease_seconds=30)
    assert again is not None
    assert again.job_id == job.id
    assert again.attempt == 2
    assert repository.finish(job.id, again.attempt, status=JobStatus.COMPLETED, message="done")
    assert not repository.finish(job.id, first.attempt, status=JobStatus.FAILED, message="late")
    tallied = repository.statistics()
    assert tallied.jobs_by_status == counted(repository)
    assert tallied.queue_wait.count == 1  # the latest wait counts, not both
    repository.recount()
    assert_same(tallied, repository.statistics())


def test_concurrent_claimers_never_take_the_same_job(repository: JobRepository) -> None:
    jobs = {repository.create_job(new_job("team-d"), pending_limit=100).id for _ in range(40)}
    taken: list[Claim] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (claim := repository.claim(owner=name, lease_seconds=30)) is not None:
            with lock:
                taken.append(claim)

    threads = [threading.Thread(target=claimer, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(str(c.job_id) for c in taken) == sorted(str(j) for j in jobs)
    assert {c.attempt for c in taken} == {1}
    assert repository.statistics().jobs_by_status[JobStatus.RUNNING.value] == 40
