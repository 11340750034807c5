"""Hyperparameter search: grid, random, Bayesian (Optuna TPE) and successive halving.

Every candidate is scored by cross-validation on the training split only; the holdout split
stays untouched until the best configuration has been refitted. Each finished trial is handed
to ``on_trial`` at once, so callers can record trials while the search runs.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, ParameterGrid, StratifiedKFold

from app.trainer.algorithms import CLASSIFICATION
from app.trainer.errors import TrainingError
from app.trainer.fitting import fit_pipeline
from app.trainer.search_space import FIELD as FIELD
from app.trainer.search_space import HALVING_FACTOR as HALVING_FACTOR
from app.trainer.search_space import check_search as check_search
from app.trainer.search_space import choices as _choices
from app.trainer.search_space import is_distribution as is_distribution
from app.trainer.search_space import objective_of as objective_of
from app.trainer.search_space import planned_trials as planned_trials

TrialCallback = Callable[[dict[str, Any]], None]


@dataclass
class SearchOutcome:
    pipeline: Any
    best_params: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    fit_metrics: dict[str, float] = field(default_factory=dict)
    # ``core.Evaluated`` of ``pipeline`` when the search evaluated it already.
    evaluated: Any = None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _splitter(task: str, folds: int, seed: int) -> Any:
    if task == CLASSIFICATION:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def _prefixed(params: dict[str, Any]) -> dict[str, Any]:
    return {f"model__{k}": v for k, v in params.items()}


def _evaluate(
    pipeline: Any,
    params: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    splits: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    scoring: str,
    number: int,
    *,
    task: str,
    seed: int,
    resource: int | None = None,
    report: Callable[[float, int], bool] | None = None,
    on_fold: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Cross-validate one candidate; never raises (a failure is a failed trial)."""
    started, clock = _now(), time.perf_counter()
    scorer = get_scorer(scoring)
    scores: list[float] = []
    state, error = "complete", None
    try:
        for fold, (train_index, test_index) in enumerate(splits):
            model = clone(pipeline).set_params(**_prefixed(params))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_pipeline(model, X.iloc[train_index], y.iloc[train_index], task=task, seed=seed)
                scores.append(float(scorer(model, X.iloc[test_index], y.iloc[test_index])))
            if on_fold is not None:
                on_fold(fold + 1)
            if report is not None and report(float(np.mean(scores)), fold):
                state = "pruned"
                break
        if not all(math.isfinite(s) for s in scores):
            state, error = "failed", "the score is not a finite number"
    except Exception as exc:  # one bad candidate must not end the search
        state, error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
    return {
        "number": number,
        "params": params,
        "mean_score": float(np.mean(scores)) if scores and state != "failed" else None,
        "std_score": float(np.std(scores)) if scores and state != "failed" else None,
        "fold_scores": scores,
        "state": state,
        "error": error,
        "resource": resource,
        "duration_seconds": time.perf_counter() - clock,
        "started_at": started,
        "finished_at": _now(),
    }


def _sample(dimension: Any, rng: np.random.Generator) -> Any:
    if not is_distribution(dimension) or dimension["type"] == "categorical":
        choices = _choices(dimension)
        return choices[int(rng.integers(len(choices)))]
    low, high, log = dimension["low"], dimension["high"], dimension.get("log", False)
    if dimension["type"] == "int":
        if log:
            return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
        step = dimension.get("step") or 1
        return int(low + step * rng.integers((high - low) // step + 1))
    if log:
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def _candidates(tuning: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    space: dict[str, Any] = tuning["search_space"]
    if tuning["strategy"] == "grid" or not any(is_distribution(d) for d in space.values()):
        grid = [dict(p) for p in ParameterGrid({k: _choices(v) for k, v in space.items()})]
        if tuning["strategy"] in ("grid", "halving"):
            return grid
    rng = np.random.default_rng(seed)
    return [
        {name: _sample(dimension, rng) for name, dimension in space.items()}
        for _ in range(int(tuning["max_trials"]))
    ]


class _Search:
    def __init__(
        self,
        pipeline: Any,
        tuning: dict[str, Any],
        task: str,
        X: pd.DataFrame,
        y: pd.Series,
        seed: int,
        progress: Callable[[str, float, str | None], None],
        on_trial: TrialCallback | None,
    ) -> None:
        self.pipeline = pipeline
        self.tuning = tuning
        self.task = task
        self.X = X.reset_index(drop=True)
        self.y = y.reset_index(drop=True)
        self.seed = seed
        self.progress = progress
        self.on_trial = on_trial
        self.scoring = objective_of(tuning, task)
        self.folds = int(tuning["cv_folds"])
        self.parallel = int(tuning["parallel_trials"])
        self.timeout = tuning.get("timeout_seconds")
        self.started = time.monotonic()
        self.planned = planned_trials(tuning)
        self.trials: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.timed_out = False
        self.final_round: list[dict[str, Any]] | None = None

    def splits(self, X: pd.DataFrame, y: pd.Series) -> list[Any]:
        return list(_splitter(self.task, self.folds, self.seed).split(X, y))

    def out_of_time(self) -> bool:
        return self.timeout is not None and time.monotonic() - self.started >= self.timeout

    def record(self, trial: dict[str, Any]) -> None:
        self.trials.append(trial)
        if self.on_trial is not None:
            self.on_trial(trial)
        best = self.best()
        summary = f"trial {len(self.trials)} of {self.planned}"
        if best is not None:
            summary += f"; best {self.scoring} {best['mean_score']:.4f}"
        self.progress("tuning", min(1.0, len(self.trials) / self.planned), summary)

    def fold_done(self, folds: int) -> None:
        """Progress between trials, fold by fold (sequential searches only)."""
        done = (len(self.trials) + folds / self.folds) / self.planned
        self.progress(
            "tuning",
            min(1.0, done),
            f"trial {len(self.trials) + 1} of {self.planned}: fold {folds} of {self.folds}",
        )

    def best(self, trials: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        done = [t for t in (trials or self.trials) if t["state"] == "complete"]
        return max(done, key=lambda t: t["mean_score"]) if done else None

    def run_batch(
        self,
        candidates: list[tuple[int, dict[str, Any]]],
        X: pd.DataFrame,
        y: pd.Series,
        resource: int | None = None,
    ) -> list[dict[str, Any]]:
        """Evaluate candidates, ``parallel_trials`` at a time, recording each as it ends."""
        splits = self.splits(X, y)
        finished: list[dict[str, Any]] = []
        if self.parallel == 1:
            for number, params in candidates:
                if self.out_of_time():
                    self.timed_out = True
                    break
                trial = _evaluate(
                    self.pipeline,
                    params,
                    X,
                    y,
                    splits,
                    self.scoring,
                    number,
                    task=self.task,
                    seed=self.seed,
                    resource=resource,
                    on_fold=self.fold_done,
                )
                self.record(trial)
                finished.append(trial)
            return finished
        results: Iterator[dict[str, Any]] = Parallel(
            n_jobs=self.parallel, return_as="generator_unordered"
        )(
            delayed(_evaluate)(
                self.pipeline,
                params,
                X,
                y,
                splits,
                self.scoring,
                number,
                task=self.task,
                seed=self.seed,
                resource=resource,
            )
            for number, params in candidates
        )
        try:
            for trial in results:
                self.record(trial)
                finished.append(trial)
                if self.out_of_time():
                    self.timed_out = True
                    break
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
        return finished

    def plain(self) -> None:
        self.run_batch(list(enumerate(_candidates(self.tuning, self.seed))), self.X, self.y)

    def halving(self) -> None:
        remaining = list(enumerate(_candidates(self.tuning, self.seed)))
        rounds = max(1, math.ceil(math.log(max(len(remaining), 1), HALVING_FACTOR)) + 1)
        n_samples = len(self.X)
        minimum = max(self.folds * 2 * (self.y.nunique() if self.task == CLASSIFICATION else 1), 20)
        order = np.random.default_rng(self.seed).permutation(n_samples)
        number = 0
        for round_index in range(rounds):
            size = int(n_samples // (HALVING_FACTOR ** (rounds - 1 - round_index)))
            size = min(n_samples, max(size, minimum))
            subset = order[:size]
            X, y = (
                self.X.iloc[subset].reset_index(drop=True),
                self.y.iloc[subset].reset_index(drop=True),
            )
            batch = [(number + i, params) for i, (_, params) in enumerate(remaining)]
            number += len(batch)
            results = self.run_batch(batch, X, y, resource=size)
            scored = sorted(
                (t for t in results if t["state"] == "complete"),
                key=lambda t: t["mean_score"],
                reverse=True,
            )
            if self.timed_out or len(scored) <= 1 or size >= n_samples:
                self.final_round = results
                return
            keep = max(1, math.ceil(len(scored) / HALVING_FACTOR))
            remaining = [(t["number"], t["params"]) for t in scored[:keep]]
        self.final_round = results

    def bayesian(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space: dict[str, Any] = self.tuning["search_space"]
        pruner: Any = (
            optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
            if self.tuning.get("early_stopping")
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=pruner,
        )
        splits = self.splits(self.X, self.y)

        def suggest(trial: Any) -> dict[str, Any]:
            params: dict[str, Any] = {}
            for name, dimension in space.items():
                if is_distribution(dimension) and dimension["type"] == "int":
                    params[name] = trial.suggest_int(
                        name,
                        dimension["low"],
                        dimension["high"],
                        log=dimension.get("log", False),
                        step=dimension.get("step") or 1,
                    )
                elif is_distribution(dimension) and dimension["type"] == "float":
                    params[name] = trial.suggest_float(
                        name, dimension["low"], dimension["high"], log=dimension.get("log", False)
                    )
                else:
                    choices = _choices(dimension)
                    index = trial.suggest_categorical(name, list(range(len(choices))))
                    params[name] = choices[index]
            return params

        def objective(trial: Any) -> float:
            params = suggest(trial)

            def report(score: float, step: int) -> bool:
                trial.report(score, step)
                return bool(trial.should_prune())

            record = _evaluate(
                self.pipeline,
                params,
                self.X,
                self.y,
                splits,
                self.scoring,
                trial.number,
                task=self.task,
                seed=self.seed,
                report=report,
                on_fold=self.fold_done if self.parallel == 1 else None,
            )
            self.record(record)
            if record["state"] == "pruned":
                raise optuna.TrialPruned()
            if record["state"] == "failed":
                raise _TrialFailed(record["error"])
            return float(record["mean_score"])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(
                objective,
                n_trials=int(self.tuning["max_trials"]),
                timeout=self.timeout,
                n_jobs=self.parallel,
                catch=(_TrialFailed,),
            )
        if self.timeout is not None and len(self.trials) < int(self.tuning["max_trials"]):
            self.timed_out = True


class _TrialFailed(Exception):
    pass


def run_search(
    pipeline: Any,
    spec: Any,
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    progress: Callable[[str, float, str | None], None],
    on_trial: TrialCallback | None,
) -> SearchOutcome:
    tuning: dict[str, Any] = spec.tuning
    seed = tuning.get("random_state")
    search = _Search(
        pipeline,
        tuning,
        task,
        X,
        y,
        spec.random_state if seed is None else seed,
        progress,
        on_trial,
    )
    strategy = tuning["strategy"]
    if strategy == "bayesian":
        search.bayesian()
    elif strategy == "halving":
        search.halving()
    else:
        search.plain()
    best = search.best(search.final_round) or search.best()
    if best is None:
        failures = [t["error"] for t in search.trials if t["error"]]
        first = f"; first error: {failures[0]}" if failures else ""
        raise TrainingError(f"all {len(search.trials)} trials of the search failed{first}")
    notes = []
    if search.timed_out:
        notes.append(
            f"the search stopped at timeout_seconds={search.timeout} after "
            f"{len(search.trials)} trials; the best so far was kept"
        )
    final = clone(pipeline).set_params(**_prefixed(best["params"]))
    progress("tuning", 1.0, f"refitting the best of {len(search.trials)} trials on every row")
    fitted = fit_pipeline(final, X, y, task=task, seed=search.seed)
    notes.extend(fitted.notes)
    return SearchOutcome(
        final, dict(best["params"]), float(best["mean_score"]), search.trials, notes, fitted.metrics
    )
