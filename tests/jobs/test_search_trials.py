"""Search trials as units of work, at the repository: claimed once, fenced by their claim,
reaped under the same number, and counted once (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from app.core.db import transaction
from app.jobs.models import SearchTrial, utcnow
from app.jobs.repository import JobRepository
from app.jobs.repository.trials import MAX_TRIAL_CLAIMS


def running_search(repository: JobRepository, *, parallel: int = 2, units: int = 4) -> uuid.UUID:
    request = {"hyperparameter_tuning_config": {"parallel_trials": parallel}}
    job = repository.create_job(
        {
            "id": uuid.uuid4(),
            "model_name": f"m{uuid.uuid4().hex[:6]}",
            "model_version": None,
            "algorithm": "Ridge",
            "experiment_name": None,
            "tags": {},
            "request": request,
            "request_hash": "x",
            "tenant": "",
            "idempotency_key": None,
            "max_attempts": 2,
            "max_runtime_seconds": 600,
        },
        pending_limit=1000,
    )
    claim = repository.claim(owner="test", lease_seconds=30, job_id=job.id)
    assert claim is not None
    assert claim.attempt == 1
    created = repository.trials.create(
        job.id, 1, [{"number": n, "params": {"alpha": n}} for n in range(units)]
    )
    assert created == units
    return job.id


def result(number: int, score: float) -> dict[str, Any]:
    now = utcnow().isoformat()
    return {
        "number": number,
        "params": {"alpha": number},
        "mean_score": score,
        "std_score": 0.0,
        "fold_scores": [score],
        "state": "complete",
        "error": None,
        "resource": None,
        "duration_seconds": 0.1,
        "started_at": now,
        "finished_at": now,
    }


def test_units_are_claimed_once_each_in_number_order(repository: JobRepository) -> None:
    job = running_search(repository, parallel=10)
    claims = [repository.trials.claim(owner=f"w{i}", lease_seconds=30) for i in range(5)]
    numbers = [c.number for c in claims if c is not None]
    assert numbers == [0, 1, 2, 3]
    assert claims[4] is None
    assert repository.trials.counts(job).running == 4
    # A resumed attempt creates nothing new: the units are there under their numbers.
    assert repository.trials.create(job, 1, [{"number": 0, "params": {}}]) == 0


def test_a_result_counts_once_and_only_for_the_claim_that_holds_it(
    repository: JobRepository,
) -> None:
    job = running_search(repository, units=1)
    claim = repository.trials.claim(owner="a", lease_seconds=30)
    assert claim is not None
    assert repository.trials.finish(claim, result(0, 0.9), worker="a")
    assert not repository.trials.finish(claim, result(0, 0.1), worker="a")
    finished = repository.trials.finished(job)
    assert [(t.number, t.mean_score, t.worker, t.source) for t in finished] == [
        (0, 0.9, "a", "search")
    ]
    assert repository.trials.counts(job).done == 1


def test_an_expired_lease_returns_the_unit_under_the_same_number_and_fences_the_old_claim(
    repository: JobRepository,
) -> None:
    job = running_search(repository, units=1)
    first = repository.trials.claim(owner="dead", lease_seconds=30)
    assert first is not None
    with transaction(repository.factory) as session:
        session.execute(
            update(SearchTrial).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert repository.trials.reap() == 1
    second = repository.trials.claim(owner="alive", lease_seconds=30)
    assert second is not None
    assert (second.number, second.claim) == (first.number, first.claim + 1)
    assert not repository.trials.renew(first, lease_seconds=30)
    assert not repository.trials.finish(first, result(0, 0.5), worker="dead")
    assert repository.trials.finish(second, result(0, 0.7), worker="alive")
    assert [t.worker for t in repository.trials.finished(job)] == ["alive"]


def test_parallel_trials_caps_one_job_and_free_slots_go_to_the_job_with_fewest_running(
    repository: JobRepository,
) -> None:
    big = running_search(repository, parallel=2, units=6)
    first = repository.trials.claim(owner="s1", lease_seconds=30)
    assert first is not None
    assert first.job_id == big
    time.sleep(0.01)
    small = running_search(repository, parallel=2, units=2)
    # The small job has no running trial: it comes first, then the big one's second slot.
    order = [repository.trials.claim(owner=f"s{i}", lease_seconds=30) for i in range(2, 6)]
    assert [c.job_id if c else None for c in order] == [small, big, small, None]


def test_a_unit_whose_process_keeps_dying_is_failed_after_a_few_tries(
    repository: JobRepository,
) -> None:
    job = running_search(repository, units=1)
    for _ in range(MAX_TRIAL_CLAIMS):
        claim = repository.trials.claim(owner="x", lease_seconds=30)
        assert claim is not None
        assert repository.trials.release(claim, reason="killed by SIGKILL")
    assert repository.trials.claim(owner="x", lease_seconds=30) is None
    [trial] = repository.trials.finished(job)
    assert trial.state == "failed"
    assert "SIGKILL" in (trial.error or "")


def test_no_unit_is_claimed_or_recorded_once_the_job_stopped_running(
    repository: JobRepository,
) -> None:
    job = running_search(repository, units=2)
    claim = repository.trials.claim(owner="a", lease_seconds=30)
    assert claim is not None
    assert repository.finish(job, 1, status=_failed(), message="stopped")
    assert repository.trials.claim(owner="b", lease_seconds=30) is None
    assert not repository.trials.renew(claim, lease_seconds=30)
    assert not repository.trials.finish(claim, result(0, 0.9), worker="a")


def _failed() -> Any:
    from app.jobs.lifecycle import JobStatus

    return JobStatus.FAILED
