"""The supervisor of one attempt: the same code under the local executor and under Celery.

It starts the attempt in a child process (forkserver, own process group), renews the lease,
watches the cancel flag and the deadline, kills the whole process group when it must, and
records what happened when the child did not record it itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from app.execution.attempt import EXIT_LOST_CLAIM, READY, RECORDED, RECORDED_KEPT, run_attempt
from app.execution.child import describe_exit, kill_process_group
from app.execution.forkserver import process_context
from app.execution.payload import AttemptPayload
from app.execution.registration import close_attempt_run
from app.execution.spare import Spare, SparePool
from app.jobs.lifecycle import AttemptOutcome, Claim, JobStatus
from app.jobs.logs import note_attempt_end
from app.jobs.models import utcnow
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)


def attempt_payload(payload: AttemptPayload) -> AttemptPayload:
    """The payload an attempt of this process is started with: it watches this process."""
    return dataclasses.replace(payload, supervisor_pid=os.getpid())


# How long a child whose claim ended (it recorded its outcome) gets to exit before it counts
# as having lost the claim and its process group is killed.
EXIT_GRACE_SECONDS = 2.0
# How long a child that said its outcome is committed may go on (it adds the evaluation
# images to its registry run) before its group is killed. Its slot is already free.
AFTER_RECORDED_SECONDS = 60.0


class Supervisor:
    """Runs one claimed attempt to its end. ``abort`` asks it to give the job back."""

    def __init__(
        self,
        repository: JobRepository,
        claim: Claim,
        payload: AttemptPayload,
        *,
        lease_seconds: float,
        poll_interval: float,
        owner: str,
        spares: SparePool | None = None,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.owner = owner
        self.on_recorded = on_recorded
        # Set when the attempt said its outcome is committed: the job no longer runs, so its
        # slot may start the next one while this process exits.
        self.recorded = threading.Event()
        self.spares = spares
        self.repository = repository
        self.claim = claim
        self.payload = payload
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.abort = threading.Event()
        self.pid: int | None = None
        self._spare: Spare | None = None  # the spare running the attempt, if it is one

    def run(self) -> AttemptOutcome:
        """Supervise to the end; returns what happened (for logs and tests)."""
        claim = self.claim
        payload = attempt_payload(self.payload)
        try:
            process, report = self._start(payload)
        except Exception as exc:
            logger.exception("could not start the attempt of job %s", claim.job_id)
            return self.repository.lost(
                claim.job_id,
                claim.attempt,
                claim.max_attempts,
                reason=f"the training process could not be started ({type(exc).__name__}: {exc})",
            )
        self.pid = process.pid
        renew_every = self.lease_seconds / 3
        # Renew at once (starting the process may have taken a while), and record which
        # process group runs the attempt, for operators and for the tests that kill it.
        owner: str | None = f"{self.owner} pgid={process.pid}"
        last_renew = 0.0
        reason: str | None = None
        kept = False  # the process said READY and went back to the spare pool
        try:
            while True:
                ready = wait([process.sentinel, *([report] if report else [])], self.poll_interval)
                if report is not None and report in ready:
                    word = _heard(report)
                    if word == READY:  # recorded, nothing left to do, kept
                        # Back in the pool before the slot is seen free: the claim that
                        # takes the slot takes this process.
                        kept = self._give_back()
                        self.recorded.set()
                        if self.on_recorded is not None:
                            self.on_recorded()
                        break
                    if word in (RECORDED, RECORDED_KEPT):
                        self.recorded.set()
                        if word == RECORDED:
                            # It exits: the pool starts a spare in its place now. A process
                            # that said RECORDED_KEPT comes back instead (or, if it does not,
                            # is replaced below).
                            self._release()
                        if self.on_recorded is not None:
                            self.on_recorded()
                        kept = self._await_end(process, report, AFTER_RECORDED_SECONDS)
                        break
                    report.close()
                    report = None  # the attempt closed its end: it is exiting
                if process.exitcode is not None:
                    break
                if self.abort.is_set():
                    reason = "shutdown"
                    break
                if time.monotonic() - last_renew >= renew_every:
                    state = self.repository.renew(
                        claim.job_id, claim.attempt, lease_seconds=self.lease_seconds, owner=owner
                    )
                    owner = None
                    last_renew = time.monotonic()
                else:
                    state = self.repository.poll(claim.job_id, claim.attempt)
                if state is None:
                    # The claim ended: most often the child just recorded its outcome and is
                    # telling us so, or exiting. Let it; only one that does neither within the
                    # grace period lost the claim for real.
                    waited = [process.sentinel, *([report] if report else [])]
                    if report is not None and report in wait(waited, EXIT_GRACE_SECONDS):
                        continue  # its word is read at the top of the loop
                    reason = None if process.exitcode is not None else "lost"
                    break
                if state.cancel_requested:
                    reason = "cancel"
                    break
                if utcnow() >= claim.deadline_at:
                    reason = "deadline"
                    break
        finally:
            if not kept:
                # Whatever happened, nothing of this attempt outlives it.
                kill_process_group(process.pid)
                process.join()
                if report is not None:
                    report.close()
                self._release()
        outcome = self._record(reason, None if kept else process.exitcode)
        note_attempt_end(
            self.payload.settings.get("artifact_root"),
            str(claim.job_id),
            claim.attempt,
            reason="kept" if kept else reason,
            exitcode=None if kept else process.exitcode,
            outcome=outcome,
        )
        if outcome is not AttemptOutcome.RECORDED:
            # The process could not end its registry run itself: end it to match the job.
            close_attempt_run(
                self.repository,
                self.payload.model_registry_client,
                claim.job_id,
                claim.attempt,
                shutdown=reason == "shutdown",
            )
        return outcome

    def _await_end(self, process: Any, report: Any, seconds: float) -> bool:
        """After RECORDED: wait up to ``seconds`` (less when asked to abort) for ``process``
        to exit or, a kept spare, to say READY. True when it said READY and is back in the
        pool (the caller must not touch it any more)."""
        ends = time.monotonic() + seconds
        listening = True  # until the process closes its end of the pipe (it is exiting)
        while process.exitcode is None and not self.abort.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                return False
            waited = [process.sentinel, report] if listening else [process.sentinel]
            if report in wait(waited, min(left, self.poll_interval)):
                if _heard(report) == READY:
                    return self._give_back()
                listening = False
        return False

    def _give_back(self) -> bool:
        """The spare that ran this attempt is ready for another: back to the pool."""
        spare, self._spare = self._spare, None
        if spare is None or self.spares is None or self.abort.is_set():
            self._spare = spare
            return False
        self.spares.give_back(spare)
        return True

    def _release(self) -> None:
        """The spare that runs this attempt will not come back soon: the pool replaces it."""
        if self._spare is not None and self.spares is not None:
            self.spares.release(self._spare)

    def _start(self, payload: AttemptPayload) -> tuple[Any, Any]:
        """The attempt's process, a spare told its job or a new one, and the pipe on which
        it says its outcome is recorded."""
        claim = self.claim
        pool = self.spares
        spare = pool.take(payload) if pool is not None else None
        if pool is not None and spare is not None:
            if spare.hand(str(claim.job_id), claim.attempt):
                self._spare = spare
                return spare.process, spare.handoff
            pool.release(spare)
        context = process_context()
        ours, theirs = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]
            target=run_attempt,
            args=(str(claim.job_id), claim.attempt, payload, theirs),
            name=f"trainyard-job-{claim.job_id}",
        )
        try:
            process.start()
        finally:
            theirs.close()
        return process, ours

    def _record(self, reason: str | None, exitcode: int | None) -> AttemptOutcome:
        claim = self.claim
        if reason == "cancel":
            self.repository.finish(
                claim.job_id,
                claim.attempt,
                status=JobStatus.CANCELLED,
                message="cancelled while running; its processes were stopped",
            )
            return AttemptOutcome.CANCELLED
        if reason == "deadline":
            text = (
                f"the attempt exceeded max_runtime_seconds={claim.max_runtime_seconds} "
                "and was stopped"
            )
            stage_name = self.repository.stage_of(claim.job_id)
            self.repository.finish(
                claim.job_id,
                claim.attempt,
                status=JobStatus.FAILED,
                message=text,
                error=("TimeLimitExceeded", stage_name, text),
            )
            return AttemptOutcome.DEADLINE
        if reason == "shutdown":
            self.repository.requeue(
                claim.job_id,
                claim.attempt,
                message="the server shut down during this attempt; requeued",
                count_attempt=False,
            )
            return AttemptOutcome.REQUEUED
        if reason == "lost":
            return AttemptOutcome.LOST
        if self.recorded.is_set():
            return AttemptOutcome.RECORDED
        if exitcode == EXIT_LOST_CLAIM:
            return AttemptOutcome.LOST
        # The child exited; if it recorded an outcome the fenced writes below change nothing.
        if self.repository.poll(claim.job_id, claim.attempt) is None:
            return AttemptOutcome.RECORDED
        return self.repository.lost(
            claim.job_id, claim.attempt, claim.max_attempts, reason=describe_exit(exitcode)
        )


def _heard(report: Any) -> str | None:
    """What the attempt said: RECORDED, RECORDED_KEPT, READY, or None (it closed the pipe)."""
    try:
        word = report.recv()
    except (EOFError, OSError):
        return None
    return word if word in (RECORDED, RECORDED_KEPT, READY) else None
