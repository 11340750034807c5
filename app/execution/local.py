"""The local executor: supervisor threads in the API process, fed from the job table.

Pending jobs are taken oldest first straight from the database, so a restart loses none;
a submit only wakes the dispatcher up early. The same ``MAX_CONCURRENT_JOBS`` slots run
search trials: a slot with nothing pending to start claims the next unit of the running
search with the fewest running trials (``TrialRepository.jobs_with_work``), in a forkserver
child, so free slots go round-robin between searches and a job submitted later waits at
most one trial for a slot.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from app.execution.forkserver import warm_up
from app.execution.payload import AttemptPayload
from app.execution.registration import draws_images, end_reaped_runs
from app.execution.spare import SparePool
from app.execution.supervisor import Supervisor, attempt_payload
from app.execution.trial_slot import TrialSlot
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)


def worker_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LocalExecutor:
    def __init__(
        self,
        repository: JobRepository,
        payload: AttemptPayload,
        *,
        max_concurrent_jobs: int,
        lease_seconds: float,
        poll_interval: float,
        reaper_interval: float,
        spare_processes: int | None = None,
    ) -> None:
        self.repository = repository
        self.payload = payload
        self.max_concurrent_jobs = max_concurrent_jobs
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.reaper_interval = reaper_interval
        self.owner = worker_name("local")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._active: dict[uuid.UUID, tuple[threading.Thread, Supervisor]] = {}
        self._trial_slots: dict[tuple[uuid.UUID, int], threading.Thread] = {}
        self._searching = False
        self._claimed = False  # the last claim took a job
        self._dispatcher: threading.Thread | None = None
        if spare_processes is None:
            # One spare per slot; with the registry's images on, one more: a kept process draws
            # its job's images after the outcome is recorded, and the slot's next job takes the
            # other, warm, instead of a process started cold.
            drawing = draws_images(payload.model_registry_client)
            spare_processes = max_concurrent_jobs + (1 if drawing else 0)
        self.spares = SparePool(size=spare_processes)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._dispatcher is not None:
            return
        self._dispatcher = threading.Thread(
            target=self._loop, name="trainyard-dispatch", daemon=True
        )
        self._dispatcher.start()

    @property
    def alive(self) -> bool:
        return self._dispatcher is not None and self._dispatcher.is_alive()

    def notify(self, job_id: uuid.UUID | None = None) -> None:
        self._wake.set()

    def running_jobs(self) -> list[uuid.UUID]:
        with self._lock:
            return list(self._active)

    def stop(self, grace_seconds: float) -> None:
        """Take no more work; let running attempts finish within the grace period, then
        stop them and give their jobs back to the queue."""
        self._stopping.set()
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.join()
        deadline = time.monotonic() + grace_seconds
        for thread, _ in self._snapshot():
            thread.join(max(0.0, deadline - time.monotonic()))
        for thread, supervisor in self._snapshot():
            supervisor.abort.set()
            thread.join()
        # A trial still running is not waited for: its child dies with this process (or
        # finishes and records), and its lease brings the unit back otherwise.
        self.spares.close()

    def _snapshot(self) -> list[tuple[threading.Thread, Supervisor]]:
        with self._lock:
            return list(self._active.values())

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        # Claim nothing until the forkserver has preloaded: jobs wait as pending, not as
        # running attempts whose process cannot start yet.
        try:
            warm_up()
        except Exception:
            logger.exception("could not warm up the forkserver; jobs will start cold")
        self.spares.prime(attempt_payload(self.payload))
        next_reap = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_reap:
                    reaped = self.repository.reap()
                    end_reaped_runs(self.payload.model_registry_client, reaped)
                    for job_id, outcome in ((r.job_id, r.outcome) for r in reaped):
                        logger.warning("job %s: lease expired, %s", job_id, outcome)
                    next_reap = time.monotonic() + self.reaper_interval
                self._fill_slots()
            except Exception:
                logger.exception("dispatcher iteration failed; retrying")
            # While a search runs, its coordinator (a child process) adds units this thread
            # is not told about: look again soon.
            self._wake.wait(timeout=0.1 if self._searching else 1.0)
            self._wake.clear()

    def _busy(self) -> int:
        """Slots taken: attempts whose job still runs (one that recorded its outcome is only
        exiting; its supervisor still waits for it), and trials."""
        with self._lock:
            running = sum(1 for _, s in self._active.values() if not s.recorded.is_set())
            return running + len(self._trial_slots)

    def _fill_slots(self) -> None:
        self._searching = bool(self._trial_slots) or any(
            supervisor.claim.search for _, supervisor in self._snapshot()
        )
        while not self._stopping.is_set():
            if self._busy() >= self.max_concurrent_jobs:
                return
            # A read first: the claim is a write transaction, and while searches run this
            # loop comes round every 0.1 s (SQLite has one writer at a time). Right after a
            # claim that took a job, another is likely waiting: claim without the read.
            claim = None
            if self._claimed or self.repository.trials.jobs_waiting():
                claim = self.repository.claim(owner=self.owner, lease_seconds=self.lease_seconds)
            self._claimed = claim is not None
            if claim is None:
                self._fill_trial_slots()
                return
            supervisor = Supervisor(
                self.repository,
                claim,
                self.payload,
                lease_seconds=self.lease_seconds,
                poll_interval=self.poll_interval,
                owner=self.owner,
                spares=self.spares,
                on_recorded=self._wake.set,
            )
            thread = threading.Thread(
                target=self._supervise,
                args=(supervisor,),
                name=f"trainyard-job-{claim.job_id}",
                daemon=True,
            )
            with self._lock:
                self._active[claim.job_id] = (thread, supervisor)
            thread.start()

    def _fill_trial_slots(self) -> None:
        while not self._stopping.is_set() and self._busy() < self.max_concurrent_jobs:
            claim = self.repository.trials.claim(owner=self.owner, lease_seconds=self.lease_seconds)
            if claim is None:
                return
            self._searching = True
            slot = TrialSlot(self.repository, claim, self.payload)
            thread = threading.Thread(
                target=self._run_trial,
                args=(slot,),
                name=f"trainyard-trial-{claim.job_id}-{claim.number}",
                daemon=True,
            )
            with self._lock:
                self._trial_slots[(claim.job_id, claim.number)] = thread
            thread.start()

    def _run_trial(self, slot: TrialSlot) -> None:
        key = (slot.claim.job_id, slot.claim.number)
        try:
            slot.run()
        except Exception:
            logger.exception("trial %s of job %s failed to run", key[1], key[0])
        finally:
            with self._lock:
                self._trial_slots.pop(key, None)
            self._wake.set()

    def _supervise(self, supervisor: Supervisor) -> None:
        job_id = supervisor.claim.job_id
        try:
            outcome = supervisor.run()
            logger.info("job %s attempt %s: %s", job_id, supervisor.claim.attempt, outcome)
        except Exception:
            logger.exception("supervising job %s failed", job_id)
        finally:
            with self._lock:
                self._active.pop(job_id, None)
            self._wake.set()
