"""The dry run's estimate an attempt stores on its job, and the actual time beside it."""

from __future__ import annotations

import logging
from typing import Any

from app.config import Settings
from app.jobs.models import TrainingJob, utcnow

logger = logging.getLogger(__name__)


def job_estimate(
    spec: Any, frame: Any, settings: Settings, fetch_seconds: float
) -> dict[str, Any] | None:
    """The dry run's estimate, made once per job (a resumed attempt keeps the first).
    A single fit on no more rows than the probes use gets none: its probes would be the
    fit itself, repeated, and cost the job more than the estimate could tell."""
    from app.trainer.estimate import PROBE_ROWS, estimate_job

    if spec.tuning is None and len(frame) <= PROBE_ROWS:
        return None
    slots = settings.max_concurrent_jobs if settings.executor == "local" else 64
    try:
        return estimate_job(
            spec,
            frame,
            slots=slots,
            fixed_seconds=fetch_seconds + settings.estimate_overhead_seconds,
        ).as_dict()
    except Exception as exc:  # advice only: the job's own fit says what is wrong
        logger.warning("no estimate: %s: %s", type(exc).__name__, exc)
        return None


def with_actual(
    estimate: dict[str, Any] | None, job: TrainingJob, fit_seconds: float
) -> dict[str, Any] | None:
    """``estimate`` with what the job took beside it, once it has a start time."""
    if estimate is None or job.started_at is None:
        return estimate
    total = (utcnow() - job.started_at).total_seconds()
    actual = {"total_seconds": round(total, 3), "fit_seconds": round(fit_seconds, 3)}
    return {**estimate, "actual": actual}
