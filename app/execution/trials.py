"""Search trials as units of work, on every executor.

The job's attempt (claimed like any job) is the search's coordinator: it prepares the data
once (``Prepared``, a file in the job's work directory), creates the units (grid and random
up front from the seed, Bayesian asks and halving rungs as the search goes), runs units itself
like any other slot, and, when none is left, refits the best configuration: the job's claim
is the one claim that picks the refitting worker. Any free slot of any worker (a local slot,
a Celery worker taking a "run the next trial of job J" token) claims the next pending unit of
a running search and runs it in a forkserver child, which renews the unit's lease and writes
the result fenced by its claim. Nothing of the search lives outside the database and that
file: a requeued attempt finds the finished trials there and only runs what is unfinished.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sklearn.base import clone

from app.config import Settings
from app.execution.trial_slot import execute, prepared_path, worker_label
from app.jobs.models import SearchTrial, Trial
from app.jobs.repository import JobRepository
from app.jobs.repository.trials import SearchCounts
from app.jobs.spec import jsonable
from app.trainer.errors import TrainingError
from app.trainer.search_space import planned_trials
from app.trainer.trial import (
    Prepared,
    ask_bayesian,
    best_of,
    initial_units,
    next_rung,
    refit,
    single_threaded,
)
from app.trainer.tuning import SearchOutcome

logger = logging.getLogger(__name__)

WAIT_SECONDS = 0.05


def trial_dict(row: Trial, rungs: dict[int, int]) -> dict[str, Any]:
    return {
        "number": row.number,
        "params": dict(row.params),
        "mean_score": row.mean_score,
        "std_score": row.std_score,
        "fold_scores": list(row.fold_scores or []),
        "state": row.state,
        "error": row.error,
        "resource": row.resource,
        "duration_seconds": row.duration_seconds,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat(),
        "rung": rungs.get(row.number, 0),
        "source": row.source,
        "worker": row.worker,
    }


class DistributedSearch:
    """``train``'s search for a job whose trials are units of work (see the module doc)."""

    def __init__(
        self,
        repository: JobRepository,
        job_id: uuid.UUID,
        attempt: int,
        settings: Settings,
        *,
        imported: list[dict[str, Any]] | None = None,
        log_trial: Callable[[dict[str, Any]], None] | None = None,
        on_units: Callable[[], dict[str, Any] | None] | None = None,
    ) -> None:
        self.repository = repository
        self.trials = repository.trials
        self.job_id = job_id
        self.attempt = attempt
        self.settings = settings
        self.owner = f"attempt-{attempt}@{worker_label()}"
        self.imported = imported or []
        self.log_trial = log_trial
        # Called once the units exist: the job's estimate (what its final fit and evaluation
        # should take decides when this slot leaves the last units to other slots).
        self.on_units = on_units
        self._final_seconds: float | None = None
        # The refit's input, and a refit made while the last trials ran on other slots:
        # (its parameters, its result or None when it failed).
        self._refit_input: tuple[Prepared, Any, Any] | None = None
        self._early: tuple[dict[str, Any], Any] | None = None
        # The trainer's evaluation of the final model, and that of the early refit once made
        # (None: not yet; False: it failed, the trainer evaluates again at the end).
        self._evaluate: Callable[[Any], Any] | None = None
        self._early_evaluated: Any = None

    def __call__(
        self,
        pipeline: Any,
        spec: Any,
        task: str,
        X: Any,
        y: Any,
        progress: Callable[[str, float, str | None], None],
        on_trial: Any,
        *,
        evaluate: Callable[[Any], Any] | None = None,
    ) -> SearchOutcome:
        tuning: dict[str, Any] = spec.tuning
        self._evaluate = evaluate
        seed = tuning.get("random_state")
        seed = spec.random_state if seed is None else int(seed)
        trial_pipeline = clone(pipeline)
        if int(tuning["parallel_trials"]) > 1:
            single_threaded(trial_pipeline)
        X, y = X.reset_index(drop=True), y.reset_index(drop=True)
        prepared = Prepared(trial_pipeline, X, y, task, seed, tuning)
        prepared.save(prepared_path(self.settings.artifact_root, self.job_id))
        to_refit = Prepared(pipeline, X, y, task, seed, tuning)
        self._refit_input = (to_refit, X, y)
        if self.imported:
            self.trials.import_trials(self.job_id, self.attempt, self.imported)
        created = self.trials.create(self.job_id, self.attempt, initial_units(prepared))
        if not created and self.trials.next_number(self.job_id) >= 0:
            progress("tuning", 0.0, "resuming the search: finished trials are kept")
        if self.on_units is not None:
            estimate = self.on_units() or {}
            if estimate.get("evaluation_seconds") is not None:
                self._final_seconds = float(estimate["fit_seconds"]) + float(
                    estimate["evaluation_seconds"]
                )
        timed_out = self._loop(prepared, progress)
        finished = self._finished()
        best = best_of(finished, tuning["strategy"])
        if best is None:
            errors = [t["error"] for t in finished if t["error"]]
            first = f"; first error: {errors[0]}" if errors else ""
            raise TrainingError(f"all {len(finished)} trials of the search failed{first}")
        if self.log_trial is not None:
            for trial in finished:
                if trial["source"] == "search":
                    self.log_trial(trial)
        notes = []
        own = [t for t in finished if t["source"] == "search"]
        if timed_out:
            notes.append(
                f"the search stopped at timeout_seconds={tuning.get('timeout_seconds')} after "
                f"{len(own)} trials; the best so far was kept"
            )
        imported = len(finished) - len(own)
        if imported:
            notes.append(f"{imported} trials imported by warm start count toward the best")
        progress("tuning", 1.0, f"refitting the best of {len(finished)} trials on every row")
        early = self._early
        evaluated = None
        if early is not None and early[1] is not None and early[0] == dict(best["params"]):
            final, fitted = early[1]
            evaluated = self._early_evaluated or None
        else:
            final, fitted = refit(to_refit, X, y, best["params"])
        notes.extend(fitted.notes)
        return SearchOutcome(
            final,
            dict(best["params"]),
            float(best["mean_score"]),
            finished,
            notes,
            fitted.metrics,
            evaluated=evaluated,
        )

    # -- the loop -------------------------------------------------------------------------

    def _finished(self) -> list[dict[str, Any]]:
        rungs = {unit.number: unit.rung for unit in self.trials.units(self.job_id)}
        return [trial_dict(row, rungs) for row in self.trials.finished(self.job_id)]

    def _elapsed(self) -> float:
        units = self.trials.units(self.job_id)
        if not units:
            return 0.0
        from app.jobs.models import utcnow

        return (utcnow() - min(unit.created_at for unit in units)).total_seconds()

    def _loop(self, prepared: Prepared, progress: Callable[[str, float, str | None], None]) -> bool:
        tuning = prepared.tuning
        timeout = tuning.get("timeout_seconds")
        budget = planned_trials(tuning)
        lease = self.settings.lease_seconds
        last_report = -1
        while True:
            out_of_time = timeout is not None and self._elapsed() >= float(timeout)
            more = False if out_of_time else self._top_up(prepared)
            counts = self.trials.counts(self.job_id)
            if counts.done != last_report:
                last_report = counts.done
                progress(
                    "tuning", min(1.0, counts.done / budget), self._summary(counts.done, budget)
                )
            if counts.unfinished == 0 and not more:
                return out_of_time
            if out_of_time:
                # Nobody may start another unit; the running ones end and are kept.
                if counts.pending:
                    # Counted again next time round: a slot may have claimed one meanwhile.
                    self.trials.drop_pending(self.job_id, self.attempt)
                elif counts.running == 0:
                    return True
            else:
                if not more and self._leave_to_others(counts):
                    if self._refit_early(tuning["strategy"]):
                        continue
                claim = self.trials.claim(owner=self.owner, lease_seconds=lease, job_id=self.job_id)
                if claim is not None:
                    execute(self.repository, claim, prepared, lease)
                    continue
                if counts.running and not more:
                    if self._refit_early(tuning["strategy"]):
                        continue
            time.sleep(WAIT_SECONDS)

    def _leave_to_others(self, counts: SearchCounts) -> bool:
        """Whether to leave the search's last pending units to the slots running the others
        and make the final fit and evaluation of the best so far meanwhile: when each of
        those slots has at most one unit left to take after its current one, and the final
        work (from the job's estimate) takes at least as long as a trial. Taking the last
        unit here instead would start the final work only after it; a best that changes in
        the units left is refitted again at the end."""
        if not counts.pending or counts.pending > counts.running or self._final_seconds is None:
            return False
        durations = [
            t["duration_seconds"]
            for t in self._finished()
            if t["source"] == "search" and t["state"] == "complete" and t["duration_seconds"]
        ]
        if not durations:
            return False
        return bool(self._final_seconds >= sum(durations) / len(durations))

    def _refit_early(self, strategy: str) -> bool:
        """Nothing is left to claim and other slots run the search's last trials: refit the
        best so far on this slot's core, which would otherwise wait for them, then (while
        they still run) evaluate it. Both are kept when that configuration is still the best
        at the end (the same parameters and seed make the same model); True when a refit or
        an evaluation was made."""
        best = best_of(self._finished(), strategy)
        if best is None or self._refit_input is None:
            return False
        params = dict(best["params"])
        if self._early is not None and self._early[0] == params:
            return self._evaluate_early()
        prepared, X, y = self._refit_input
        self._early_evaluated = None
        try:
            self._early = (params, refit(prepared, X, y, params))
        except Exception as exc:  # the refit at the end tries again and reports the error
            logger.warning("refitting the best so far failed: %s: %s", type(exc).__name__, exc)
            self._early = (params, None)
        return True

    def _evaluate_early(self) -> bool:
        if self._evaluate is None or self._early is None or self._early[1] is None:
            return False
        if self._early_evaluated is not None:
            return False
        try:
            self._early_evaluated = self._evaluate(self._early[1][0])
        except Exception as exc:  # the trainer evaluates again at the end and reports it
            logger.warning("evaluating the best so far failed: %s: %s", type(exc).__name__, exc)
            self._early_evaluated = False
        return True

    def _summary(self, done: int, budget: int) -> str:
        text = f"trial {done} of {budget}"
        best = best_of(
            [t for t in self._finished() if t["source"] == "search"] if done else [], "grid"
        )
        if best is not None:
            text += f"; best {best['mean_score']:.4f}"
        return text

    def _top_up(self, prepared: Prepared) -> bool:
        """Create the units a strategy adds as it goes; True while more may come."""
        strategy = prepared.tuning["strategy"]
        if strategy == "bayesian":
            return self._ask(prepared)
        if strategy == "halving":
            return self._next_rung(prepared)
        return False

    def _ask(self, prepared: Prepared) -> bool:
        tuning = prepared.tuning
        cap = int(tuning["parallel_trials"])
        total = int(tuning["max_trials"])
        units = list(self.trials.units(self.job_id))
        waiting = [u for u in units if u.state == "pending"]
        while len(units) < total and len(waiting) < cap:
            finished = list(self._finished())
            running = [{"params": u.params} for u in units if u.state in ("pending", "running")]
            number = len(units)
            params = jsonable(ask_bayesian(tuning, prepared.seed, number, finished, running))
            if not self.trials.create(
                self.job_id, self.attempt, [{"number": number, "params": params}]
            ):
                break
            units = list(self.trials.units(self.job_id))
            waiting = [u for u in units if u.state == "pending"]
        return len(units) < total

    def _next_rung(self, prepared: Prepared) -> bool:
        units: list[SearchTrial] = list(self.trials.units(self.job_id))
        if not units:
            return False
        top = max(u.rung for u in units)
        if any(u.state != "done" for u in units if u.rung == top):
            return True
        rung = next_rung(prepared, top, self._finished(), max(u.number for u in units) + 1)
        if rung:
            self.trials.create(self.job_id, self.attempt, rung)
        return bool(rung)


def imported_trials(repository: JobRepository, sources: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The finished trials of the warm-start jobs (checked at submit), oldest job first."""
    from app.jobs.models import TRIAL_FIELDS

    trials: list[dict[str, Any]] = []
    for source in sources:
        rows = {t.number: t for t in repository.trials.finished(source)}
        for row in sorted(rows.values(), key=lambda t: t.number):
            if row.source != "search":
                continue
            trials.append(
                {
                    **{name: getattr(row, name) for name in TRIAL_FIELDS},
                    "started_at": row.started_at,
                    "finished_at": row.finished_at,
                    "worker": f"imported from job {source}",
                }
            )
    return trials
