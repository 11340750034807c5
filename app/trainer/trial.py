"""One search trial at a time, for searches whose trials are units of work.

The execution layer stores each candidate as a row, hands rows to any free slot and keeps the
results; this module is the ML those slots run, free of any database: what candidates a
strategy starts with (grid and random: all of them, from the seed; halving: the first rung),
the next Bayesian candidate from the trials so far, the next halving rung once a rung is
done, one trial's cross-validation, and the refit of the best configuration.

``Prepared`` is what every trial of a job needs (the unfitted pipeline, the training split,
the folds' settings). The job's attempt builds it once and writes it to the job's work
directory; every other slot reads that file instead of fetching and profiling the data again.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from app.trainer.algorithms import CLASSIFICATION
from app.trainer.fitting import fit_pipeline
from app.trainer.search_space import HALVING_FACTOR, choices, is_distribution, objective_of
from app.trainer.tuning import _candidates, _evaluate, _prefixed, _splitter


@dataclass
class Prepared:
    pipeline: Any
    X: pd.DataFrame
    y: pd.Series
    task: str
    seed: int
    tuning: dict[str, Any]

    @property
    def scoring(self) -> str:
        return objective_of(self.tuning, self.task)

    @property
    def folds(self) -> int:
        return int(self.tuning["cv_folds"])

    def save(self, path: Path) -> None:
        """Written by the job's own attempt into ``ARTIFACT_ROOT/<job>/``; read back only by
        Trainyard's own slots (never a user's file), atomically replaced."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)

    @staticmethod
    def load(path: Path) -> Prepared:
        with open(path, "rb") as handle:
            prepared: Prepared = pickle.load(handle)  # noqa: S301 (our own file, see save)
        return prepared


def single_threaded(pipeline: Any) -> Any:
    """Trials that run side by side each get one core: n_jobs>1 inside them would
    oversubscribe the machine and make two slots slower than one."""
    model = pipeline.named_steps["model"]
    names = model.get_params(deep=False)
    for name in ("n_jobs", "thread_count"):
        if name in names:
            model.set_params(**{name: 1})
    return pipeline


# -- the candidates ------------------------------------------------------------------------


def halving_sizes(
    tuning: dict[str, Any], candidates: int, n_samples: int, y: pd.Series
) -> list[int]:
    """The training rows of each rung, as the in-process search uses them."""
    rounds = max(1, math.ceil(math.log(max(candidates, 1), HALVING_FACTOR)) + 1)
    task_classes = y.nunique() if y.dtype.kind in "OUSb" or y.nunique() < 50 else 1
    folds = int(tuning["cv_folds"])
    minimum = max(folds * 2 * task_classes, 20)
    sizes = []
    for index in range(rounds):
        size = int(n_samples // (HALVING_FACTOR ** (rounds - 1 - index)))
        sizes.append(min(n_samples, max(size, minimum)))
    return sizes


def initial_units(prepared: Prepared) -> list[dict[str, Any]]:
    """The units a search starts with: every grid or random candidate, or halving's first
    rung; none for Bayesian (asked one at a time)."""
    tuning = prepared.tuning
    if tuning["strategy"] == "bayesian":
        return []
    candidates = _candidates(tuning, prepared.seed)
    resource = None
    if tuning["strategy"] == "halving":
        resource = halving_sizes(tuning, len(candidates), len(prepared.X), prepared.y)[0]
    return [
        {"number": number, "params": params, "rung": 0, "resource": resource}
        for number, params in enumerate(candidates)
    ]


def next_rung(
    prepared: Prepared, rung: int, finished: list[dict[str, Any]], first_number: int
) -> list[dict[str, Any]]:
    """After rung ``rung`` is done: the best third of its complete trials on more rows, or
    nothing when the search is over (one survivor, or the last rung ran on every row)."""
    candidates = len(_candidates(prepared.tuning, prepared.seed))
    sizes = halving_sizes(prepared.tuning, candidates, len(prepared.X), prepared.y)
    scored = sorted(
        (t for t in finished if t["state"] == "complete" and t["rung"] == rung),
        key=lambda t: t["mean_score"],
        reverse=True,
    )
    if len(scored) <= 1 or rung + 1 >= len(sizes) or sizes[rung] >= len(prepared.X):
        return []
    keep = max(1, math.ceil(len(scored) / HALVING_FACTOR))
    return [
        {
            "number": first_number + i,
            "params": t["params"],
            "rung": rung + 1,
            "resource": sizes[rung + 1],
        }
        for i, t in enumerate(scored[:keep])
    ]


def _distributions(space: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, dimension in space.items():
        if is_distribution(dimension) and dimension["type"] == "int":
            out[name] = IntDistribution(
                dimension["low"],
                dimension["high"],
                log=dimension.get("log", False),
                step=dimension.get("step") or 1,
            )
        elif is_distribution(dimension) and dimension["type"] == "float":
            out[name] = FloatDistribution(
                dimension["low"], dimension["high"], log=dimension.get("log", False)
            )
        else:
            out[name] = CategoricalDistribution(list(range(len(choices(dimension)))))
    return out


def _internal(space: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """Optuna's form of stored parameters (categorical values as their index); None when a
    value is not in the space (an imported trial of another space)."""
    out: dict[str, Any] = {}
    for name, dimension in space.items():
        if name not in params:
            return None
        if is_distribution(dimension) and dimension["type"] in ("int", "float"):
            value = params[name]
            if not dimension["low"] <= value <= dimension["high"]:
                return None
            out[name] = value
        else:
            options = choices(dimension)
            if params[name] not in options:
                return None
            out[name] = options.index(params[name])
    return out


def ask_bayesian(
    tuning: dict[str, Any],
    seed: int,
    number: int,
    finished: list[dict[str, Any]],
    running: list[dict[str, Any]],
) -> dict[str, Any]:
    """The next candidate from a TPE study rebuilt in memory from the trials so far: finished
    ones with their scores, running ones as RUNNING so ``constant_liar`` keeps parallel asks
    apart. The seed moves with ``number`` so a rebuilt study does not repeat itself."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space: dict[str, Any] = tuning["search_space"]
    distributions = _distributions(space)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed + number, constant_liar=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for trial in [*finished, *running]:
            params = _internal(space, trial["params"])
            if params is None:
                continue
            if trial in running:
                state, value = TrialState.RUNNING, None
            elif trial["state"] == "complete" and trial["mean_score"] is not None:
                state, value = TrialState.COMPLETE, float(trial["mean_score"])
            else:
                state, value = TrialState.FAIL, None
            study.add_trial(
                create_trial(params=params, distributions=distributions, value=value, state=state)
            )
        asked = study.ask(distributions)
    values: dict[str, Any] = {}
    for name, dimension in space.items():
        raw = asked.params[name]
        if is_distribution(dimension) and dimension["type"] in ("int", "float"):
            values[name] = raw
        else:
            values[name] = choices(dimension)[int(raw)]
    return values


# -- running one trial ---------------------------------------------------------------------


PRUNING_STARTUP_TRIALS = 3


def median_pruner(earlier: list[list[float]]) -> Callable[[float, int], bool] | None:
    """Optuna's median rule on the folds: stop a trial whose mean over its first folds is
    below the median of the earlier complete trials' means over as many folds (once
    ``PRUNING_STARTUP_TRIALS`` have completed)."""
    if len(earlier) < PRUNING_STARTUP_TRIALS:
        return None

    def report(score: float, fold: int) -> bool:
        peers = [float(np.mean(s[: fold + 1])) for s in earlier if len(s) > fold]
        return len(peers) >= PRUNING_STARTUP_TRIALS and score < float(np.median(peers))

    return report


def run_trial(
    prepared: Prepared,
    number: int,
    params: dict[str, Any],
    resource: int | None,
    earlier: list[list[float]] | None = None,
) -> dict[str, Any]:
    """Cross-validate one candidate on the training split (the first ``resource`` rows of
    the seeded order, for a halving rung). ``earlier``: the fold scores of the complete
    trials so far, for pruning (Bayesian with ``early_stopping``). Never raises: a failure
    is a failed trial."""
    X, y = prepared.X, prepared.y
    if resource is not None and resource < len(X):
        order = np.random.default_rng(prepared.seed).permutation(len(X))[:resource]
        X, y = X.iloc[order].reset_index(drop=True), y.iloc[order].reset_index(drop=True)
    splits = list(_splitter(prepared.task, prepared.folds, prepared.seed).split(X, y))
    return _evaluate(
        prepared.pipeline,
        params,
        X,
        y,
        splits,
        prepared.scoring,
        number,
        task=prepared.task,
        seed=prepared.seed,
        resource=resource,
        report=median_pruner(earlier or [])
        if prepared.tuning.get("early_stopping") and prepared.tuning["strategy"] == "bayesian"
        else None,
    )


def best_of(trials: list[dict[str, Any]], strategy: str) -> dict[str, Any] | None:
    """The best complete trial; for halving, of the last rung that has a complete one."""
    done = [t for t in trials if t["state"] == "complete" and t["mean_score"] is not None]
    if strategy == "halving" and done:
        top = max(t.get("rung", 0) for t in done)
        done = [t for t in done if t.get("rung", 0) == top] or done
    return max(done, key=lambda t: t["mean_score"]) if done else None


def refit(prepared: Prepared, X: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> Any:
    final = clone(prepared.pipeline).set_params(**_prefixed(params))
    return final, fit_pipeline(final, X, y, task=prepared.task, seed=prepared.seed)


def is_classification(task: str) -> bool:
    return task == CLASSIFICATION
