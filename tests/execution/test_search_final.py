"""When a search's own slot leaves its last units to the slots running the others, to fit and
evaluate the best so far meanwhile (``DistributedSearch._leave_to_others``), on a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from app.config import Settings
from app.execution.trials import DistributedSearch
from app.jobs.repository import JobRepository
from tests.jobs.test_search_trials import result, running_search


def near_the_end(repository: JobRepository, *, others: int) -> uuid.UUID:
    """A search of 4 units, 2 finished (0.1 s each), ``others`` running on other slots."""
    job = running_search(repository, parallel=4, units=4)
    for number in (0, 1):
        claim = repository.trials.claim(owner="done", lease_seconds=30, job_id=job)
        assert claim is not None
        assert claim.number == number
        assert repository.trials.finish(claim, result(number, 0.5), worker="w")
    for _ in range(others):
        assert repository.trials.claim(owner="other", lease_seconds=30, job_id=job) is not None
    return job


def search(repository: JobRepository, job: uuid.UUID, final_seconds: float | None) -> Any:
    coordinator = DistributedSearch(repository, job, 1, Settings(mlflow_tracking_uri=""))
    coordinator._final_seconds = final_seconds
    return coordinator


def test_the_last_unit_is_left_when_the_final_work_outlasts_a_trial(
    repository: JobRepository,
) -> None:
    job = near_the_end(repository, others=1)  # 1 pending, 1 running elsewhere
    counts = repository.trials.counts(job)
    assert (counts.pending, counts.running) == (1, 1)
    assert search(repository, job, 0.5)._leave_to_others(counts)
    # The final work is shorter than a trial: taking the unit here ends sooner.
    assert not search(repository, job, 0.05)._leave_to_others(counts)
    # No estimate to judge by (an estimate stored before it had the evaluation's part).
    assert not search(repository, job, None)._leave_to_others(counts)


def test_units_are_taken_while_more_are_pending_than_other_slots_run(
    repository: JobRepository,
) -> None:
    job = near_the_end(repository, others=0)  # 2 pending, nothing running elsewhere
    counts = repository.trials.counts(job)
    assert (counts.pending, counts.running) == (2, 0)
    assert not search(repository, job, 10.0)._leave_to_others(counts)
