"""The Celery app of the ``celery`` executor: one task that runs the same supervisor as the
local executor, on a worker anywhere that reaches the database and the broker.

Start a worker with ``make worker``, i.e.
``celery -A app.execution.celery_app worker --pool=threads --concurrency=1 --queues=training``.
The worker builds everything (database, attempt payload) from its own ``TRAINYARD_*``
environment; a message carries nothing but the job id.

Delivery is at least once (``task_acks_late``): a message may arrive twice, or after its job
was cancelled, requeued or finished. That is harmless: the task starts by claiming the job
with the conditional ``pending -> running`` UPDATE, and a job that is not pending any more is
left alone. The claim's attempt number fences every later write of the attempt.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from celery import Celery, signals

from app.config import Settings, get_settings
from app.jobs.lifecycle import AttemptOutcome
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)

TASK_NAME = "trainyard.run_training_job"
# "Run the next trial of job J": a token, not a trial. Any number of them may be in flight;
# each claims whatever unit is pending when it runs, so a duplicate or late one is harmless.
TRIAL_TASK_NAME = "trainyard.run_trial"
# How long a token waits for a unit while every unit of a tuning search is taken before it
# goes back to the end of the queue, letting other messages by.
TOKEN_WAIT_SECONDS = 2.0
# While the search still reads and prepares its data its units are seconds away, and the
# token is how this worker's slot takes part: it waits for them up to this long.
PREPARE_WAIT_SECONDS = 60.0
TOKEN_POLL_SECONDS = 0.05
# Stages during which a search can still hand out units; the first two come before its
# units exist.
SEARCH_STAGES = ("fetching_data", "preprocessing", "tuning")
PREPARING_STAGES = SEARCH_STAGES[:2]
# Redis hands an unacknowledged message to another worker after the visibility timeout, so
# it must outlast the longest attempt: the runtime limit plus time to start and to record.
VISIBILITY_MARGIN_SECONDS = 900


def visibility_timeout(settings: Settings) -> int:
    return settings.max_runtime_seconds_limit + VISIBILITY_MARGIN_SECONDS


class WorkerRuntime:
    """What one worker process needs to run attempts: its repository, its payload, and the
    supervisors running now (so a warm shutdown can hand their jobs back at once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._repository: JobRepository | None = None
        self._owner: tuple[int, str] | None = None
        self._active: dict[uuid.UUID, Any] = {}
        self._stopping = threading.Event()
        _RUNTIMES.add(self)

    @property
    def repository(self) -> JobRepository:
        # Built on first use: the API process creates this app only to publish.
        with self._lock:
            if self._repository is None:
                from app.core.db import create_db_engine

                self._repository = JobRepository(create_db_engine(self.settings.database_url))
            return self._repository

    @property
    def owner(self) -> str:
        from app.execution.local import worker_name

        with self._lock:
            if self._owner is None or self._owner[0] != os.getpid():
                self._owner = (os.getpid(), worker_name("celery"))
            return self._owner[1]

    def search_stage(self, job_id: uuid.UUID) -> str | None:
        """The stage of job ``job_id`` while it is a running search that may hand out units."""
        job = self.repository.get_job(job_id)
        if job is None or job.status != "running" or job.stage not in SEARCH_STAGES:
            return None
        return job.stage

    def search_open(self, job_id: uuid.UUID) -> bool:
        return self.search_stage(job_id) is not None

    def run_trial(self, job_id: str, *, republish: Callable[[], object]) -> str:
        """Take a token of job ``job_id``: run its next pending unit in a child, then pass the
        token on (publish it again) while the search is open."""
        import time

        from app.execution.payload import AttemptPayload
        from app.execution.trial_slot import TrialSlot

        try:
            job_uuid = uuid.UUID(job_id)
        except ValueError:
            logger.error("ignoring a trial token with a malformed job id %r", job_id)
            return "invalid"
        settings = self.settings
        received = time.monotonic()
        deadline = received + TOKEN_WAIT_SECONDS
        while True:
            if self._stopping.is_set():
                return "skipped"
            claim = self.repository.trials.claim(
                owner=self.owner, lease_seconds=settings.lease_seconds, job_id=job_uuid
            )
            if claim is not None:
                break
            stage = self.search_stage(job_uuid)
            if stage is None:
                return "skipped"
            now = time.monotonic()
            if stage in PREPARING_STAGES and now - received < PREPARE_WAIT_SECONDS:
                # Its units are about to be created: going to the back of the queue now would
                # leave this slot idle when they are.
                deadline = now + TOKEN_WAIT_SECONDS
            elif now >= deadline:
                republish()
                return "waiting"
            time.sleep(TOKEN_POLL_SECONDS)
        TrialSlot(
            self.repository, claim, AttemptPayload(settings=settings.model_dump(mode="json"))
        ).run()
        if self.search_open(job_uuid):
            republish()
        return "ran"

    def run(
        self,
        job_id: str,
        *,
        republish: Callable[[], object],
        token: Callable[[], object] | None = None,
    ) -> str:
        """Claim the job and supervise its attempt; returns what happened."""
        from app.execution.payload import AttemptPayload
        from app.execution.registration import default_registry_client
        from app.execution.supervisor import Supervisor

        try:
            job_uuid = uuid.UUID(job_id)
        except ValueError:
            logger.error("ignoring a message with a malformed job id %r", job_id)
            return "invalid"
        settings = self.settings
        claim = self.repository.claim(
            owner=self.owner, lease_seconds=settings.lease_seconds, job_id=job_uuid
        )
        if claim is None:
            # A duplicate or stale message: the job runs elsewhere, finished, or was cancelled.
            logger.info("job %s is not pending; nothing to do", job_id)
            return "skipped"
        supervisor = Supervisor(
            self.repository,
            claim,
            AttemptPayload(
                settings=settings.model_dump(mode="json"),
                model_registry_client=default_registry_client(settings),
            ),
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.poll_interval_seconds,
            owner=self.owner,
        )
        with self._lock:
            self._active[job_uuid] = supervisor
            if self._stopping.is_set():
                supervisor.abort.set()
        if token is not None:
            self._hand_out_tokens(job_uuid, token)
        try:
            outcome = supervisor.run()
        finally:
            with self._lock:
                self._active.pop(job_uuid, None)
        logger.info("job %s attempt %s: %s", job_id, claim.attempt, outcome)
        if outcome is AttemptOutcome.REQUEUED:
            # The job is pending again; its message was consumed, so publish a new one now
            # rather than wait for the API's reaper to notice.
            try:
                republish()
            except Exception:
                logger.exception("could not publish job %s again; the reaper will", job_id)
        return outcome

    def _hand_out_tokens(self, job_id: uuid.UUID, token: Callable[[], object]) -> None:
        """A search's attempt runs units itself; ``parallel_trials - 1`` tokens let other
        workers' free slots run units beside it."""
        from app.jobs.repository.trials import parallel_cap

        job = self.repository.get_job(job_id)
        if job is None or not job.request.get("hyperparameter_tuning_config"):
            return
        for _ in range(min(parallel_cap(job.request), 64) - 1):
            try:
                token()
            except Exception:
                logger.exception("could not publish a trial token of job %s", job_id)
                return

    def abort_all(self) -> None:
        """Stop every running attempt and give its job back (a warm shutdown)."""
        with self._lock:
            self._stopping.set()
            for supervisor in self._active.values():
                supervisor.abort.set()


_RUNTIMES: weakref.WeakSet[WorkerRuntime] = weakref.WeakSet()


def create_celery_app(settings: Settings) -> Celery:
    """The Celery app for ``settings``: Redis broker, JSON only, late acks, one message at a
    time per worker thread, and a dedicated queue for training."""
    queue = settings.celery_queue
    celery = Celery("trainyard", broker=settings.celery_broker_url, set_as_current=False)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # Acknowledge after the attempt ended, so a worker that dies mid-job does not take
        # the message with it; a pool process that dies gets its message re-queued.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # The supervisor already runs each attempt in its own process (see _check_pool).
        worker_pool="threads",
        broker_transport_options={"visibility_timeout": visibility_timeout(settings)},
        broker_connection_retry_on_startup=True,
        # Celery declares the queue (and a direct exchange of the same name) on first use.
        task_default_queue=queue,
        task_routes={
            TASK_NAME: {"queue": queue, "routing_key": queue},
            TRIAL_TASK_NAME: {"queue": queue, "routing_key": queue},
        },
        # A submit must not hang on a dead broker: the job is committed anyway, and the
        # API's reaper publishes it again.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
    )
    runtime = WorkerRuntime(settings)

    @celery.task(name=TASK_NAME, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def run_training_job(task: Any, job_id: str) -> str:
        return runtime.run(
            job_id,
            republish=lambda: task.apply_async(args=(job_id,), task_id=job_id, queue=queue),
            token=lambda: celery.send_task(TRIAL_TASK_NAME, args=(job_id,), queue=queue),
        )

    @celery.task(name=TRIAL_TASK_NAME, shared=False)  # type: ignore[untyped-decorator]
    def run_trial(job_id: str) -> str:
        return runtime.run_trial(
            job_id,
            republish=lambda: celery.send_task(TRIAL_TASK_NAME, args=(job_id,), queue=queue),
        )

    celery.trainyard_runtime = runtime
    return celery


SUPPORTED_POOLS = ("threads", "solo")


def pool_name(pool: Any) -> str:
    """``threads``, ``solo``, ``prefork``, ... from a pool name or class."""
    text = pool if isinstance(pool, str) else f"{pool.__module__}.{pool.__name__}"
    text = text.lower()
    for name in (*SUPPORTED_POOLS, "prefork", "eventlet", "gevent", "custom"):
        if name in text or (name == "threads" and "thread" in text):
            return name
    return text


def _warm_up(sender: Any = None, **_: Any) -> None:
    # Prefork pool processes are daemonic, and multiprocessing refuses to start children
    # from a daemonic process, so every attempt would fail after its claim. Refuse to start
    # instead (SystemExit passes through Celery's signal dispatch; an Exception would not).
    pool = pool_name(getattr(sender, "pool_cls", "threads"))
    if pool not in SUPPORTED_POOLS:
        raise SystemExit(
            f"trainyard workers need --pool=threads (or solo), not {pool}: each attempt "
            "already runs in its own process, started from this worker's forkserver"
        )
    # Take no message before the forkserver has preloaded scikit-learn: a claimed job would
    # hold its lease while its process cannot start yet.
    from app.execution.forkserver import warm_up

    try:
        warm_up()
    except Exception:
        logger.exception("could not warm up the forkserver; jobs will start cold")
    # The tasks import the supervisor and the trial slot, and with them the trainer
    # (pandas, scikit-learn): seconds that the first job message and the first trial token
    # of this worker would otherwise spend between "received" and their claim.
    import app.execution.registration
    import app.execution.supervisor
    import app.execution.trial_slot
    import app.execution.trials  # noqa: F401

    # And connect to the database once, so the first claim does not pay for it either.
    for runtime in list(_RUNTIMES):
        try:
            runtime.repository.get_job(uuid.uuid4())
        except Exception:
            logger.exception("could not reach the database yet; the first claim will retry")


def _hand_back(**_: Any) -> None:
    # A warm shutdown (SIGTERM, docker stop) would wait for every running job to end; stop
    # them instead and put their jobs back to pending, without spending an attempt.
    for runtime in list(_RUNTIMES):
        runtime.abort_all()


signals.worker_init.connect(_warm_up)
signals.worker_shutting_down.connect(_hand_back)


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    # ``celery -A app.execution.celery_app`` asks for ``app``: the worker's app, built from
    # the worker's own settings when asked for, not when the API imports this module.
    global _app
    if name == "app":
        if _app is None:
            _app = create_celery_app(get_settings())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
