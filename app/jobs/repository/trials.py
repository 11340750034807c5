"""Search trials as units of work: created, claimed, leased, finished once, reaped.

``search_trial`` is the work queue (one row per candidate number of a job), ``trial`` the log
of finished trials (the rows streams, webhooks and ``/trials`` read). A claim is a conditional
UPDATE of a ``pending`` row that bumps ``claim``, the trial's fencing token; the result is one
transaction, fenced by that token, that marks the unit ``done`` and inserts its ``trial`` row,
so a trial's result counts once whatever happens to the process that ran it. A unit whose
lease expired goes back to ``pending`` under the same number.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.jobs.lifecycle import JobStatus
from app.jobs.models import TRIAL_FIELDS, SearchTrial, TrainingJob, Trial, utcnow
from app.jobs.repository.changes import fence, notify

PENDING, RUNNING, DONE = "pending", "running", "done"
# A unit whose process died this many times is recorded as failed instead of run again.
MAX_TRIAL_CLAIMS = 3


@dataclass(frozen=True)
class TrialClaim:
    id: int
    job_id: uuid.UUID
    number: int
    claim: int
    params: dict[str, Any]
    rung: int
    resource: int | None
    owner: str = ""


@dataclass(frozen=True)
class SearchCounts:
    pending: int
    running: int
    done: int

    @property
    def unfinished(self) -> int:
        return self.pending + self.running


def _running_job(job_id: Any) -> Any:
    return (TrainingJob.id == job_id) & (TrainingJob.status == JobStatus.RUNNING.value)


def _holds(session: Session, job_id: uuid.UUID, attempt: int) -> bool:
    """The job still runs under ``attempt``: the fence of every write the attempt makes."""
    return session.scalar(select(TrainingJob.id).where(fence(job_id, attempt))) is not None


def parallel_cap(request: dict[str, Any]) -> int:
    tuning = request.get("hyperparameter_tuning_config") or {}
    return int(tuning.get("parallel_trials") or 1)


class TrialRepository:
    def __init__(self, factory: sessionmaker[Session], reader: sessionmaker[Session]) -> None:
        self.factory = factory
        self.reader = reader

    # -- reads ------------------------------------------------------------------------------

    def units(self, job_id: uuid.UUID) -> Sequence[SearchTrial]:
        with self.reader() as session:
            return session.scalars(
                select(SearchTrial).where(SearchTrial.job_id == job_id).order_by(SearchTrial.number)
            ).all()

    def finished(self, job_id: uuid.UUID) -> Sequence[Trial]:
        """Every finished trial of the job, whichever attempt ran it (imported ones too)."""
        with self.reader() as session:
            return session.scalars(
                select(Trial).where(Trial.job_id == job_id).order_by(Trial.number, Trial.id)
            ).all()

    def counts(self, job_id: uuid.UUID) -> SearchCounts:
        with self.reader() as session:
            rows = session.execute(
                select(SearchTrial.state, func.count())
                .where(SearchTrial.job_id == job_id)
                .group_by(SearchTrial.state)
            ).all()
        by_state = {state: int(count) for state, count in rows}
        return SearchCounts(
            by_state.get(PENDING, 0), by_state.get(RUNNING, 0), by_state.get(DONE, 0)
        )

    def job_open(self, job_id: uuid.UUID) -> bool:
        """The job runs and nobody asked to cancel it: its trials may go on."""
        with self.reader() as session:
            row = session.execute(
                select(TrainingJob.cancel_requested).where(_running_job(job_id))
            ).first()
        return row is not None and not row.cancel_requested

    def jobs_waiting(self) -> bool:
        """Whether a pending job waits for a slot (a trial process then hands its slot back)."""
        with self.reader() as session:
            return (
                session.scalar(
                    select(TrainingJob.id)
                    .where(TrainingJob.status == JobStatus.PENDING.value)
                    .limit(1)
                )
                is not None
            )

    def next_number(self, job_id: uuid.UUID) -> int:
        with self.reader() as session:
            top = session.scalar(
                select(func.max(SearchTrial.number)).where(SearchTrial.job_id == job_id)
            )
        return -1 if top is None else int(top)

    # -- the job's attempt creates the work -------------------------------------------------

    def create(self, job_id: uuid.UUID, attempt: int, units: list[dict[str, Any]]) -> int:
        """Add the units whose numbers the job does not have yet; fenced by the job's attempt.
        Returns how many were added (a resumed search adds none)."""
        with transaction(self.factory) as session:
            if not _holds(session, job_id, attempt):
                return 0
            have = set(
                session.scalars(
                    select(SearchTrial.number).where(SearchTrial.job_id == job_id)
                ).all()
            )
            now = utcnow()
            added = 0
            for unit in units:
                if unit["number"] in have:
                    continue
                session.add(
                    SearchTrial(
                        job_id=job_id,
                        number=unit["number"],
                        params=unit["params"],
                        rung=unit.get("rung", 0),
                        resource=unit.get("resource"),
                        state=PENDING,
                        claim=0,
                        created_at=now,
                    )
                )
                added += 1
        return added

    def create_claimed(
        self,
        job_id: uuid.UUID,
        number: int,
        params: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
    ) -> TrialClaim | None:
        """Insert unit ``number`` already claimed by ``owner`` (a Bayesian ask); None when a
        concurrent ask took the number first or the job is not running."""
        now = utcnow()
        try:
            with transaction(self.factory) as session:
                if session.scalar(select(TrainingJob.id).where(_running_job(job_id))) is None:
                    return None
                unit = SearchTrial(
                    job_id=job_id,
                    number=number,
                    params=params,
                    rung=0,
                    state=RUNNING,
                    claim=1,
                    worker=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    started_at=now,
                    created_at=now,
                )
                session.add(unit)
                session.flush()
                return TrialClaim(unit.id, job_id, number, 1, params, 0, None, owner)
        except IntegrityError:
            return None

    # -- any slot claims the work -----------------------------------------------------------

    def jobs_with_work(self) -> list[tuple[uuid.UUID, int, int]]:
        """``(job_id, running, pending)`` of running jobs that have pending units and room
        under their ``parallel_trials``, the job with the fewest running trials first (ties:
        the oldest job), so free slots go round-robin between searches."""
        with self.reader() as session:
            rows = session.execute(
                select(
                    SearchTrial.job_id,
                    func.sum(case((SearchTrial.state == RUNNING, 1), else_=0)),
                    func.sum(case((SearchTrial.state == PENDING, 1), else_=0)),
                )
                .join(TrainingJob, TrainingJob.id == SearchTrial.job_id)
                .where(
                    TrainingJob.status == JobStatus.RUNNING.value,
                    SearchTrial.state.in_((PENDING, RUNNING)),
                )
                .group_by(SearchTrial.job_id)
            ).all()
            candidates = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows if row[2]}
            jobs = (
                session.execute(
                    select(TrainingJob.id, TrainingJob.request, TrainingJob.created_at).where(
                        TrainingJob.id.in_(list(candidates))
                    )
                ).all()
                if candidates
                else []
            )
        work = [
            (job.id, *candidates[job.id], job.created_at)
            for job in jobs
            if candidates[job.id][0] < parallel_cap(job.request)
        ]
        work.sort(key=lambda w: (w[1], w[3]))
        return [(job, running, pending) for job, running, pending, _ in work]

    def claim(
        self, *, owner: str, lease_seconds: float, job_id: uuid.UUID | None = None
    ) -> TrialClaim | None:
        """Claim the lowest-numbered pending unit of ``job_id``, or of the job the round-robin
        order puts first; None when there is none."""
        jobs = [job_id] if job_id is not None else [job for job, _, _ in self.jobs_with_work()]
        for job in jobs:
            for _ in range(5):  # a concurrent claimer may take the row we picked: try the next
                claimed, more = self._claim_in(job, owner, lease_seconds)
                if claimed is not None:
                    return claimed
                if not more:
                    break
        return None

    def _claim_in(
        self, job_id: uuid.UUID, owner: str, lease_seconds: float
    ) -> tuple[TrialClaim | None, bool]:
        with transaction(self.factory) as session:
            if session.scalar(select(TrainingJob.id).where(_running_job(job_id))) is None:
                return None, False
            row = session.execute(
                select(SearchTrial.id)
                .where(SearchTrial.job_id == job_id, SearchTrial.state == PENDING)
                .order_by(SearchTrial.number)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None, False
            now = utcnow()
            claimed = session.execute(
                update(SearchTrial)
                .where(SearchTrial.id == row.id, SearchTrial.state == PENDING)
                .values(
                    state=RUNNING,
                    claim=SearchTrial.claim + 1,
                    worker=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    started_at=now,
                )
                .returning(
                    SearchTrial.id,
                    SearchTrial.number,
                    SearchTrial.claim,
                    SearchTrial.params,
                    SearchTrial.rung,
                    SearchTrial.resource,
                )
            ).first()
            if claimed is None:
                return None, True
            return (
                TrialClaim(
                    claimed.id,
                    job_id,
                    claimed.number,
                    claimed.claim,
                    dict(claimed.params),
                    claimed.rung,
                    claimed.resource,
                    owner,
                ),
                True,
            )

    # -- the slot that holds a claim (fenced) -----------------------------------------------

    @staticmethod
    def _fence(claim: TrialClaim) -> Any:
        return (
            (SearchTrial.id == claim.id)
            & (SearchTrial.claim == claim.claim)
            & (SearchTrial.state == RUNNING)
        )

    def renew(self, claim: TrialClaim, *, lease_seconds: float) -> bool:
        """Extend the lease; False when the claim is lost or the job stopped running."""
        with transaction(self.factory) as session:
            if session.scalar(select(TrainingJob.id).where(_running_job(claim.job_id))) is None:
                return False
            row = session.execute(
                update(SearchTrial)
                .where(self._fence(claim))
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
                .returning(SearchTrial.id)
            ).first()
        return row is not None

    def finish(self, claim: TrialClaim, result: dict[str, Any], *, worker: str) -> bool:
        """Record the trial's result once: the unit becomes ``done`` and its ``trial`` row is
        written in the same transaction, or nothing happens (the claim was lost)."""
        with transaction(self.factory) as session:
            if session.scalar(select(TrainingJob.id).where(_running_job(claim.job_id))) is None:
                return False  # the job ended (cancelled, failed, timed out) meanwhile
            row = session.execute(
                update(SearchTrial)
                .where(self._fence(claim))
                .values(state=DONE, lease_expires_at=None)
                .returning(SearchTrial.id)
            ).first()
            if row is None:
                return False
            attempt = session.scalar(
                select(TrainingJob.attempt).where(TrainingJob.id == claim.job_id)
            )
            session.add(
                Trial(
                    job_id=claim.job_id,
                    attempt=int(attempt or 0),
                    **{name: result[name] for name in TRIAL_FIELDS},
                    started_at=datetime.fromisoformat(result["started_at"]),
                    finished_at=datetime.fromisoformat(result["finished_at"]),
                    worker=worker,
                    source="search",
                )
            )
            notify(session)
        return True

    def release(self, claim: TrialClaim, *, reason: str) -> bool:
        """The process running the claim ended without a result: run the unit again, or,
        after ``MAX_TRIAL_CLAIMS`` tries, record it as failed with ``reason``."""
        if claim.claim >= MAX_TRIAL_CLAIMS:
            now = utcnow().isoformat()
            return self.finish(
                claim,
                {
                    "number": claim.number,
                    "params": claim.params,
                    "mean_score": None,
                    "std_score": None,
                    "fold_scores": [],
                    "state": "failed",
                    "error": f"{reason} ({claim.claim} times)",
                    "resource": claim.resource,
                    "duration_seconds": 0.0,
                    "started_at": now,
                    "finished_at": now,
                },
                worker="",
            )
        with transaction(self.factory) as session:
            row = session.execute(
                update(SearchTrial)
                .where(self._fence(claim))
                .values(state=PENDING, worker=None, lease_expires_at=None)
                .returning(SearchTrial.id)
            ).first()
        return row is not None

    def drop_pending(self, job_id: uuid.UUID, attempt: int) -> int:
        """The search ran out of time: its units nobody started are dropped, fenced by the
        job's attempt."""
        with transaction(self.factory) as session:
            if not _holds(session, job_id, attempt):
                return 0
            rows = session.execute(
                delete(SearchTrial)
                .where(SearchTrial.job_id == job_id, SearchTrial.state == PENDING)
                .returning(SearchTrial.id)
            ).all()
        return len(rows)

    def reap(self) -> int:
        """Put running units whose lease expired back to pending, under the same number."""
        with transaction(self.factory) as session:
            rows = session.execute(
                update(SearchTrial)
                .where(SearchTrial.state == RUNNING, SearchTrial.lease_expires_at < utcnow())
                .values(state=PENDING, worker=None, lease_expires_at=None)
                .returning(SearchTrial.id)
            ).all()
        return len(rows)

    def import_trials(self, job_id: uuid.UUID, attempt: int, trials: list[dict[str, Any]]) -> int:
        """Copy finished trials of earlier jobs into this job as ``warm_start`` rows (once:
        a resumed attempt finds them there). Numbers are negative, so they never collide
        with the search's own numbers, nor count toward its budget."""
        with transaction(self.factory) as session:
            if not _holds(session, job_id, attempt):
                return 0
            have = session.scalar(
                select(func.count())
                .select_from(Trial)
                .where(Trial.job_id == job_id, Trial.source == "warm_start")
            )
            if have:
                return 0
            for index, trial in enumerate(trials):
                session.add(
                    Trial(
                        job_id=job_id,
                        attempt=attempt,
                        **{**{name: trial[name] for name in TRIAL_FIELDS}, "number": -1 - index},
                        started_at=trial["started_at"],
                        finished_at=trial["finished_at"],
                        worker=trial.get("worker"),
                        source="warm_start",
                    )
                )
            notify(session)
        return len(trials)
