"""How long a job will take, before it runs: a few timed fits on small subsamples of the
real data, extrapolated.

1. The job's own pipeline (preprocessing and estimator, on one core) is fitted on three
   growing subsamples of the training split (at most ``PROBE_ROWS`` rows), with
   ``n_estimators`` / ``iterations`` cut to 20; the time scales linearly back to the real
   count (or each search candidate's own count).
2. A power law ``t = a * rows^b`` is fitted to the three times (least squares in log-log,
   ``b`` kept within ``SLOPE_RANGE``, or ``SUPERLINEAR_SLOPE_RANGE`` for kernel methods:
   noise on small fits must not make a slope absurd) and evaluated at the rows each fit of
   the job will see: ``(k-1)/k`` of the training split per fold of a search, all of it for
   the final fit.
3. A search costs ``trials x folds`` fits (each candidate's own ``n_estimators`` counted),
   spread over ``min(parallel_trials, slots)`` slots, plus the refit. The measured fixed parts
   (reading the data, splitting, evaluation on the holdout scaled from the probe) and the
   service's own per-job overhead are added.

``basis`` says what the figure rests on, so a caller can judge it.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from app.trainer.fitting import fit_pipeline
from app.trainer.search_space import planned_trials

PROBE_ROWS = 3000
# Trees / boosting rounds of the probes.
PROBE_ROUNDS = 20
ROUND_PARAMETERS = ("n_estimators", "iterations", "num_boost_round")
# How a fit's time may grow with rows: kernel methods are superlinear, the rest near-linear.
# Noise on small probes must not make a slope absurd, and extrapolation multiplies it.
SLOPE_RANGE = (0.9, 1.4)
SUPERLINEAR_SLOPE_RANGE = (1.3, 2.2)
SUPERLINEAR = ("SVC", "SVR", "NuSVC", "NuSVR", "KernelRidge", "GaussianProcess")


@dataclass
class Estimate:
    fit_seconds: float
    peak_memory_mb: float
    trials: int
    parallel_trials: int
    total_seconds: float
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "fit_seconds": round(self.fit_seconds, 3),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "trials": self.trials,
            "parallel_trials": self.parallel_trials,
            "total_seconds": round(self.total_seconds, 3),
            "basis": self.basis,
        }


def _rounds_of(pipeline: Any) -> tuple[str | None, int]:
    params = pipeline.named_steps["model"].get_params(deep=False)
    for name in ROUND_PARAMETERS:
        value = params.get(name)
        if isinstance(value, int) and value > 0:
            return name, value
    return None, 1


def _threads(pipeline: Any) -> int:
    import os

    params = pipeline.named_steps["model"].get_params(deep=False)
    cores = os.cpu_count() or 1
    for name in ("n_jobs", "thread_count"):
        value = params.get(name)
        if isinstance(value, int) and value != 0 and name in params:
            return max(1, min(cores if value < 0 else value, cores))
    return 1


def _sizes(rows: int) -> list[int]:
    top = min(rows, PROBE_ROWS)
    return sorted({max(20, top // 4), max(20, top // 2), top})


def _time_fit(pipeline: Any, X: pd.DataFrame, y: pd.Series, task: str, seed: int) -> float:
    model = clone(pipeline)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_pipeline(model, X, y, task=task, seed=seed)
    return time.perf_counter() - started


def _power_law(
    sizes: list[int], times: list[float], slopes: tuple[float, float] = SLOPE_RANGE
) -> tuple[float, float]:
    """(a, b) of t = a * n^b; with one size, b = 1."""
    if len(sizes) < 2:
        return times[0] / sizes[0], 1.0
    logs_n = np.log(np.asarray(sizes, dtype=float))
    logs_t = np.log(np.maximum(np.asarray(times, dtype=float), 1e-4))
    b, log_a = np.polyfit(logs_n, logs_t, 1)
    b = float(min(max(b, slopes[0]), slopes[1]))
    # Anchor at the largest probe (the most reliable time) with the clamped slope.
    a = times[-1] / sizes[-1] ** b
    return float(a), b


def _round_factors(tuning: dict[str, Any] | None, name: str | None, base: int, seed: int) -> float:
    """The mean of candidate rounds / probe rounds over the search's candidates."""
    if name is None:
        return 1.0
    if not tuning or name not in tuning["search_space"]:
        return float(base)
    from app.trainer.tuning import _candidates

    plan = dict(tuning)
    if plan["strategy"] == "bayesian":
        plan = {**plan, "strategy": "random"}
    values = [float(c.get(name, base)) for c in _candidates(plan, seed)]
    return float(np.mean(values)) if values else float(base)


def estimate(
    pipeline: Any,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_val: pd.DataFrame,
    *,
    task: str,
    seed: int,
    tuning: dict[str, Any] | None,
    slots: int,
    fixed_seconds: float,
) -> Estimate:
    """See the module doc. ``fixed_seconds``: what the caller measured or knows of the job's
    fixed cost (reading the data, starting the process, storing and registering)."""
    from app.trainer.trial import single_threaded

    name, base = _rounds_of(pipeline)
    # One core, as trials run beside each other; a thread pool's start-up would swamp the
    # small probes' times (and the refit is timed as the same single-core fit: an upper bound).
    probe = single_threaded(clone(pipeline))
    few = PROBE_ROUNDS
    if name is not None:
        probe.named_steps["model"].set_params(**{name: min(base, few)})
    rows = len(X_train)
    order = np.random.default_rng(seed).permutation(rows)
    sizes = _sizes(rows)

    def fit(size: int, model: Any) -> float:
        subset = order[:size]
        return _time_fit(model, X_train.iloc[subset], y_train.iloc[subset], task, seed)

    fit(sizes[0], probe)  # a first fit pays for lazy imports and caches: not timed
    tracemalloc.start()
    try:
        times = [fit(size, probe) for size in sizes]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    model_name = type(pipeline.named_steps["model"]).__name__
    slopes = SUPERLINEAR_SLOPE_RANGE if model_name.startswith(SUPERLINEAR) else SLOPE_RANGE
    _, b = _power_law(sizes, times, slopes)

    # Rounds (trees, boosting iterations) scale a fit's work linearly: the probes ran
    # ``few`` of them. (Separating a fixed part with a second count was tried: on a loaded
    # machine the difference of two short fits is mostly noise, see docs/performance.md.)
    def seconds(n_rows: float, rounds: float) -> float:
        scale = rounds / min(base, few) if name is not None else 1.0
        return float(times[-1] * scale * (n_rows / sizes[-1]) ** b)

    factor = _round_factors(tuning, name, base, seed)
    # The final fit runs on the job's own n_jobs (the probes and trials on one core); trees
    # split across threads almost evenly.
    fit_seconds = seconds(rows, base) / _threads(pipeline)
    memory_mb = peak / 2**20 * (rows / sizes[-1]) + X_train.memory_usage(deep=True).sum() / 2**20
    # Evaluation predicts on the train and holdout splits: a small share of a fit.
    evaluation = 0.1 * fit_seconds * (rows + len(X_val)) / max(rows, 1)
    if not tuning:
        total = fixed_seconds + fit_seconds + evaluation
        basis = (
            f"timed fits on {sizes} rows, power law rows^{b:.2f} to {rows} rows"
            + (f", {name}={base} scaled from {few}" if name is not None and base > few else "")
            + f", plus {fixed_seconds:.2f}s fixed"
        )
        return Estimate(fit_seconds, memory_mb, 0, 1, total, basis)
    trials = planned_trials(tuning)
    folds = int(tuning["cv_folds"])
    parallel = max(1, min(int(tuning["parallel_trials"]), slots))
    fold_rows = rows * (folds - 1) / folds
    trial_seconds = folds * seconds(fold_rows, factor) * 1.1  # + scoring each fold
    if tuning["strategy"] == "halving":
        trial_seconds *= 0.5  # rungs on growing subsets: most fits are on a third or less
    search = trials * trial_seconds / parallel
    total = fixed_seconds + search + fit_seconds + evaluation
    basis = (
        f"timed fits on {sizes} rows, power law rows^{b:.2f}; {trials} trials x "
        f"{folds} folds on {int(fold_rows)} rows over {parallel} slot(s)"
        + (f", {factor:.0f} {name} on average" if name is not None else "")
        + f"; refit on {rows} rows; plus {fixed_seconds:.2f}s fixed"
    )
    return Estimate(fit_seconds, memory_mb, trials, parallel, total, basis)


def estimate_job(spec: Any, frame: pd.DataFrame, *, slots: int, fixed_seconds: float) -> Estimate:
    """The estimate of ``spec`` on ``frame`` (the rows the job will read)."""
    from app.trainer.core import prepare, resolve_task

    task = resolve_task(spec)
    started = time.perf_counter()
    prepared = prepare(spec, frame, task)
    seed = spec.random_state
    if spec.tuning and spec.tuning.get("random_state") is not None:
        seed = int(spec.tuning["random_state"])
    return estimate(
        prepared.pipeline,
        prepared.X_train,
        prepared.y_train,
        prepared.X_val,
        task=task,
        seed=seed,
        tuning=spec.tuning,
        slots=slots,
        fixed_seconds=fixed_seconds + (time.perf_counter() - started),
    )
