"""The supervisor of one attempt: the same code under the local executor and under Celery.

It starts the attempt in a child process (forkserver, own process group), renews the lease,
watches the cancel flag and the deadline, kills the whole process group when it must, and
records what happened when the child did not record it itself.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
import time
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import BaseContext, set_spawning_popen
from typing import Any

from app.execution.attempt import EXIT_LOST_CLAIM, AttemptPayload, run_attempt
from app.execution.attempt_log import note_attempt_end
from app.execution.registration import close_attempt_run
from app.execution.store import Claim, JobStore
from app.lifecycle import JobStatus
from app.models import utcnow

logger = logging.getLogger(__name__)

_context: BaseContext | None = None
# What the forkserver imports before its first fork; the service may add to it at start-up
# (MLflow, when a registry is on), which counts until the server has started.
FORKSERVER_PRELOAD = ["app.execution.preload"]
_context_lock = threading.Lock()


class _Popen(popen_forkserver.Popen):
    """CPython's forkserver ``Popen`` (3.11-3.13 ``_launch``), minus the caller's main module.

    The preparation data a child receives names ``__main__`` (``init_main_from_path`` or
    ``init_main_from_name``), and the child imports it again before running the target. A
    script that calls ``asyncio.run(...)`` at module level, with no ``__name__`` guard, would
    then run itself in every training process and fail in multiprocessing's bootstrapping
    check. An attempt's target lives in ``app.execution``: the child never needs ``__main__``.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        _parent_w = os.dup(w)
        close_fds = util.close_fds  # type: ignore[attr-defined]
        self.finalizer = util.Finalize(self, close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class _Context(multiprocessing.context.ForkServerContext):
    Process = _Process


def process_context() -> BaseContext:
    """The forkserver context; its server preloads scikit-learn, pandas and the trainer.

    Neither the server (its preload list leaves out ``__main__``) nor a child (``_Popen``)
    imports the caller's main module."""
    global _context
    with _context_lock:
        if _context is None:
            context = _Context()
            context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
            _context = context
        return _context


def _noop() -> None:
    return None


def warm_up() -> None:
    """Start the forkserver and let it finish its preload, so the first job starts at once."""
    process = process_context().Process(target=_noop, name="trainyard-warm-up")  # type: ignore[attr-defined]
    process.start()
    process.join()


def kill_process_group(pid: int) -> None:
    """SIGKILL the child and every process in its group (joblib/loky workers)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the training process did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed by {name}"
    return f"the training process exited with code {code} without recording a result"


class Supervisor:
    """Runs one claimed attempt to its end. ``abort`` asks it to give the job back."""

    def __init__(
        self,
        store: JobStore,
        claim: Claim,
        payload: AttemptPayload,
        *,
        lease_seconds: float,
        poll_interval: float,
        owner: str,
    ) -> None:
        self.owner = owner
        self.store = store
        self.claim = claim
        self.payload = payload
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.abort = threading.Event()
        self.pid: int | None = None

    def run(self) -> str:
        """Supervise to the end; returns what happened (for logs and tests)."""
        claim = self.claim
        payload = dataclasses.replace(self.payload, supervisor_pid=os.getpid())
        process: Any = process_context().Process(  # type: ignore[attr-defined]
            target=run_attempt,
            args=(str(claim.job_id), claim.attempt, payload),
            name=f"trainyard-job-{claim.job_id}",
        )
        try:
            process.start()
        except Exception as exc:
            logger.exception("could not start the attempt of job %s", claim.job_id)
            return self.store.lost(
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
        try:
            while True:
                process.join(self.poll_interval)
                if process.exitcode is not None:
                    break
                if self.abort.is_set():
                    reason = "shutdown"
                    break
                if time.monotonic() - last_renew >= renew_every:
                    state = self.store.renew(
                        claim.job_id, claim.attempt, lease_seconds=self.lease_seconds, owner=owner
                    )
                    owner = None
                    last_renew = time.monotonic()
                else:
                    state = self.store.poll(claim.job_id, claim.attempt)
                if state is None:
                    reason = "lost"
                    break
                if state.cancel_requested:
                    reason = "cancel"
                    break
                if utcnow() >= claim.deadline_at:
                    reason = "deadline"
                    break
        finally:
            # Whatever happened, nothing of this attempt outlives it.
            kill_process_group(process.pid)
            process.join()
        outcome = self._record(reason, process.exitcode)
        note_attempt_end(
            self.payload.settings.get("artifact_root"),
            str(claim.job_id),
            claim.attempt,
            reason=reason,
            exitcode=process.exitcode,
            outcome=outcome,
        )
        if outcome != "recorded":
            # The process could not end its registry run itself: end it to match the job.
            close_attempt_run(
                self.store,
                self.payload.model_registry_client,
                claim.job_id,
                claim.attempt,
                shutdown=reason == "shutdown",
            )
        return outcome

    def _record(self, reason: str | None, exitcode: int | None) -> str:
        claim = self.claim
        if reason == "cancel":
            self.store.finish(
                claim.job_id,
                claim.attempt,
                status=JobStatus.CANCELLED,
                message="cancelled while running; its processes were stopped",
            )
            return "cancelled"
        if reason == "deadline":
            text = (
                f"the attempt exceeded max_runtime_seconds={claim.max_runtime_seconds} "
                "and was stopped"
            )
            with self.store.reader() as session:
                from app.models import TrainingJob

                stage = session.get(TrainingJob, claim.job_id)
                stage_name = stage.stage if stage is not None else None
            self.store.finish(
                claim.job_id,
                claim.attempt,
                status=JobStatus.FAILED,
                message=text,
                error=("TimeLimitExceeded", stage_name, text),
            )
            return "deadline"
        if reason == "shutdown":
            self.store.requeue(
                claim.job_id,
                claim.attempt,
                message="the server shut down during this attempt; requeued",
                count_attempt=False,
            )
            return "requeued"
        if reason == "lost":
            return "lost"
        if exitcode == EXIT_LOST_CLAIM:
            return "lost"
        # The child exited; if it recorded an outcome the fenced writes below change nothing.
        if self.store.poll(claim.job_id, claim.attempt) is None:
            return "recorded"
        return self.store.lost(
            claim.job_id, claim.attempt, claim.max_attempts, reason=describe_exit(exitcode)
        )
