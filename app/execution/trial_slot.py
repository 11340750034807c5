"""A trial slot: one claimed unit of a search run in a forkserver child, which renews the
unit's lease, records the result fenced by its claim, and goes on with its job's next unit
while no job waits for a slot (``trials.py`` has the search's coordinator)."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import Settings
from app.execution.payload import AttemptPayload
from app.jobs.repository import JobRepository
from app.jobs.repository.trials import TrialClaim
from app.jobs.spec import jsonable
from app.trainer.trial import Prepared, run_trial

logger = logging.getLogger(__name__)

PREPARED_FILE = "prepared.pkl"
EXIT_TRIAL_LOST = 3
# At most this many trials in one trial process before it hands its slot back.
TRIALS_PER_PROCESS = 50


def prepared_path(artifact_root: str | Path, job_id: uuid.UUID | str) -> Path:
    return Path(artifact_root).resolve() / str(job_id) / "search" / PREPARED_FILE


def worker_label(owner: str = "") -> str:
    """Where a trial ran: the slot that claimed it (the worker's name holds its host and
    process id) and the process that trained it."""
    here = f"{socket.gethostname()}:{os.getpid()}"
    return f"{owner} pid={os.getpid()}" if owner else here


class TrialLease:
    """Renews a unit's lease from a thread while its trial runs; ``on_lost`` is called when
    the claim is gone (reaped, or the job stopped running)."""

    def __init__(
        self,
        repository: JobRepository,
        claim: TrialClaim,
        lease_seconds: float,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.repository = repository
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.on_lost = on_lost
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="trial-lease", daemon=True)

    def _renew(self) -> None:
        while not self._done.wait(self.lease_seconds / 3):
            try:
                held = self.repository.trials.renew(self.claim, lease_seconds=self.lease_seconds)
            except Exception:
                logger.exception("renewing trial %s failed; trying again", self.claim.number)
                continue
            if not held:
                if self.on_lost is not None:
                    self.on_lost()
                return

    def __enter__(self) -> TrialLease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()


def execute(
    repository: JobRepository,
    claim: TrialClaim,
    prepared: Prepared,
    lease_seconds: float,
    on_lost: Callable[[], None] | None = None,
) -> bool:
    """Run one claimed trial and record it; False when the claim was lost meanwhile."""
    earlier = None
    if prepared.tuning.get("early_stopping"):
        earlier = [
            list(t.fold_scores)
            for t in repository.trials.finished(claim.job_id)
            if t.state == "complete" and t.source == "search"
        ]
    with TrialLease(repository, claim, lease_seconds, on_lost):
        result = run_trial(prepared, claim.number, claim.params, claim.resource, earlier)
    clean = {**result, "params": jsonable(result["params"])}
    return repository.trials.finish(claim, clean, worker=worker_label(claim.owner))


def run_trial_process(claim: TrialClaim, payload: AttemptPayload) -> None:
    """Entry point of a trial's child process (started from the forkserver)."""
    from app.core.db import create_db_engine
    from app.execution.child import enter_child

    enter_child(payload.supervisor_pid)
    settings = Settings(**payload.settings)
    engine = create_db_engine(settings.database_url)
    try:
        repository = JobRepository(engine)
        path = prepared_path(settings.artifact_root, claim.job_id)
        prepared = Prepared.load(path)

        def lost() -> None:
            os._exit(EXIT_TRIAL_LOST)

        # Go on with the job's next unit in this process (its data already loaded) while no
        # job waits for a slot: a fork, an engine and a data load per trial add up.
        current: TrialClaim | None = claim
        for _ in range(TRIALS_PER_PROCESS):
            if current is None:
                break
            if not execute(repository, current, prepared, settings.lease_seconds, lost):
                os._exit(EXIT_TRIAL_LOST)
            if repository.trials.jobs_waiting():
                break
            current = repository.trials.claim(
                owner=claim.owner, lease_seconds=settings.lease_seconds, job_id=claim.job_id
            )
    finally:
        engine.dispose()


class TrialSlot:
    """The parent side of one trial: start its child, wait, and give the unit back when the
    child ended without recording a result."""

    def __init__(self, repository: JobRepository, claim: TrialClaim, payload: AttemptPayload):
        self.repository = repository
        self.claim = claim
        self.payload = payload

    def run(self) -> int | None:
        from app.execution.child import describe_exit, kill_process_group
        from app.execution.forkserver import process_context

        payload = dataclasses.replace(self.payload, supervisor_pid=os.getpid())
        process: Any = process_context().Process(  # type: ignore[attr-defined]
            target=run_trial_process,
            args=(self.claim, payload),
            name=f"trainyard-trial-{self.claim.job_id}-{self.claim.number}",
        )
        poll = float(self.payload.settings.get("poll_interval_seconds", 0.25))
        try:
            process.start()
            # Stop the trial as soon as its job is cancelled or ended: the child itself would
            # only notice at its next lease renewal.
            while process.exitcode is None:
                process.join(poll)
                if process.exitcode is None and not self.repository.trials.job_open(
                    self.claim.job_id
                ):
                    break
        except Exception:
            logger.exception("trial %s of job %s", self.claim.number, self.claim.job_id)
        finally:
            if process.pid is not None:
                kill_process_group(process.pid)
                process.join()
        code = process.exitcode
        if code not in (0, EXIT_TRIAL_LOST):
            self.repository.trials.release(self.claim, reason=describe_exit(code))
        return code  # type: ignore[no-any-return]
