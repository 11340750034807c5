"""How long a job will take, before it runs: a few timed fits on small subsamples of the
real data, extrapolated.

1. The job's own pipeline (preprocessing and estimator, on one core) is fitted on three
   growing subsamples of the training split (at most ``PROBE_ROWS`` rows), with
   ``n_estimators`` / ``iterations`` cut to 20. The fits are timed in CPU time, which other
   processes' load does not stretch, and turned into wall time by the probes' own ratio of
   wall to CPU time (not under tracemalloc: tracing allocations slows a forest's Python loop
   several times; peak memory comes from one more, traced, fit).
2. With rounds, the smallest and largest probes are fitted again at 5 rounds: the
   difference splits each into a fixed part and a part per round, which scales linearly to
   the real count (or each search candidate's own count).
3. A power law ``t = a * rows^b`` is fitted to the three times (least squares in log-log,
   ``b`` kept within ``SLOPE_RANGE``, or ``SUPERLINEAR_SLOPE_RANGE`` for kernel methods:
   noise on small fits must not make a slope absurd) and evaluated at the rows each fit of
   the job will see: ``(k-1)/k`` of the training split per fold of a search, all of it for
   the final fit. The rounds' part has its own slope from the two 5-round probes
   (histogram-based boosters' rounds grow more slowly with rows than their binning).
4. A search costs ``trials x folds`` fits (each candidate's own ``n_estimators`` counted),
   spread over ``min(parallel_trials, slots)`` slots, plus the refit. The measured fixed parts
   (reading the data, splitting, evaluation on the holdout scaled from the probe, the
   report's permutation importance: one prediction per column and repeat within its time
   budget) and the service's own per-job overhead are added.

``basis`` says what the figure rests on, so a caller can judge it.
"""

from __future__ import annotations

import math
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from app.trainer.fitting import fit_pipeline
from app.trainer.importance import CHUNK_SHARE, copies_per_chunk
from app.trainer.search_space import planned_trials

PROBE_ROWS = 3000
# Trees / boosting rounds of the probes.
PROBE_ROUNDS = 20
# A second probe at this many rounds splits a fit into a fixed part and a part per round.
FEW_ROUNDS = 5
MAX_FIXED_SHARE = 0.9
# The part of a histogram-based booster's fit that grows with rounds may grow this slowly
# with rows (a forest's trees do not: their per-tree overhead only hides it on small probes).
ROUND_SLOPE_RANGE = (0.4, 2.2)
ROUND_PARAMETERS = ("n_estimators", "iterations", "num_boost_round")
# How a fit's time may grow with rows: kernel methods are superlinear, the rest near-linear.
# Noise on small probes must not make a slope absurd, and extrapolation multiplies it.
SLOPE_RANGE = (0.9, 1.4)
SUPERLINEAR_SLOPE_RANGE = (1.3, 2.2)
SUPERLINEAR = ("SVC", "SVR", "NuSVC", "NuSVR", "KernelRidge", "GaussianProcess")
# Histogram-based boosting: a round's work is mostly per bin and per leaf, so it grows more
# slowly with rows than the binning of the data does.
HISTOGRAM = ("LGBM", "XGB", "LabelledXGB", "CatBoost")


@dataclass
class Estimate:
    fit_seconds: float
    peak_memory_mb: float
    trials: int
    parallel_trials: int
    total_seconds: float
    basis: str
    # The final model's evaluation on the holdout (metrics, report, importance).
    evaluation_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "fit_seconds": round(self.fit_seconds, 3),
            "evaluation_seconds": round(self.evaluation_seconds, 3),
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


@dataclass(frozen=True)
class Timed:
    seconds: float  # wall clock
    cpu: float  # this process's CPU time: what other processes' load does not stretch
    model: Any


def _time_fit(pipeline: Any, X: pd.DataFrame, y: pd.Series, task: str, seed: int) -> Timed:
    model = clone(pipeline)
    started, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_pipeline(model, X, y, task=task, seed=seed)
    return Timed(time.perf_counter() - started, time.process_time() - cpu, model)


def _fixed_share(many: Timed, few: Timed, rounds: tuple[int, int]) -> float:
    """The share of a ``rounds[0]``-round fit that does not grow with rounds (preprocessing,
    a boosting library's dataset and bins, per-fit overhead), from the CPU times of the same
    fit at ``rounds[0]`` and ``rounds[1]`` rounds: CPU time, unlike wall time, is not
    stretched by whatever else the machine runs, so the difference of two short fits holds."""
    high, low = rounds
    per_round = (many.cpu - few.cpu) / (high - low)
    fixed = many.cpu - high * per_round
    if many.cpu <= 0:
        return 0.0
    return float(min(max(fixed / many.cpu, 0.0), MAX_FIXED_SHARE))


def _predict_seconds(model: Any, X: pd.DataFrame) -> float:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict(X)
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


def _importance_seconds(budget: Any, model: Any, X_val: pd.DataFrame, scale: float) -> float:
    """The evaluation report's permutation importance: every column x repeat copy of at most
    ``max_rows`` holdout rows goes through the pipeline in chunks (``importance``), so its cost
    is the number of chunks times one chunk's prediction, timed here on a chunk of the same
    size (the probe's model, scaled to the model's rounds), within the time budget."""
    if budget is None or budget.seconds <= 0 or len(X_val) < 2:
        return 0.0
    rows = X_val.iloc[: budget.max_rows]
    copies = rows.shape[1] * budget.n_repeats
    try:
        once = _predict_seconds(model, rows) * scale
        per_chunk = min(
            copies,
            copies_per_chunk(len(rows), rows.shape[1], once, budget.seconds * CHUNK_SHARE),
        )
        chunk = pd.concat([rows] * per_chunk, ignore_index=True)
        seconds = _predict_seconds(model, chunk) * scale * math.ceil(copies / per_chunk)
    except Exception:  # the report would skip it as well
        return 0.0
    return float(min(budget.seconds, seconds + once))


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
    importance: Any = None,
) -> Estimate:
    """See the module doc. ``fixed_seconds``: what the caller measured or knows of the job's
    fixed cost (reading the data, starting the process, storing and registering);
    ``importance``: the evaluation report's ``ImportanceBudget``."""
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

    def fit(size: int, model: Any) -> Timed:
        subset = order[:size]
        return _time_fit(model, X_train.iloc[subset], y_train.iloc[subset], task, seed)

    fit(sizes[0], probe)  # a first fit pays for lazy imports and caches: not timed
    # Timed without tracemalloc: tracing every allocation makes a fit that runs Python code
    # (a forest builds each tree from Python) several times slower.
    timed = [fit(size, probe) for size in sizes]
    # The probes' CPU times (single-threaded fits) are steady; how much the machine's load
    # stretches them into wall time is their sum of wall over their sum of CPU, applied to all.
    stretch = max(1.0, sum(t.seconds for t in timed) / max(sum(t.cpu for t in timed), 1e-6))
    times = [max(t.cpu, 1e-4) * stretch for t in timed]
    probe_rounds = min(base, few)
    # Split the probes into a part that grows with rounds and one that does not, at the
    # smallest and the largest size, so that each part gets its own slope in rows (a
    # boosting library's rounds grow more slowly with rows than its binning of the data).
    fixed_share = (0.0, 0.0)
    if name is not None and probe_rounds > FEW_ROUNDS:
        fewer = clone(probe)
        fewer.named_steps["model"].set_params(**{name: FEW_ROUNDS})
        rounds = (probe_rounds, FEW_ROUNDS)
        fixed_share = (
            _fixed_share(timed[0], fit(sizes[0], fewer), rounds),
            _fixed_share(timed[-1], fit(sizes[-1], fewer), rounds),
        )
    tracemalloc.start()
    try:
        fit(sizes[0], probe)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    model_name = type(pipeline.named_steps["model"]).__name__
    slopes = SUPERLINEAR_SLOPE_RANGE if model_name.startswith(SUPERLINEAR) else SLOPE_RANGE
    _, b = _power_law(sizes, times, slopes)
    fixed_part = times[-1] * fixed_share[1]
    round_part = times[-1] - fixed_part
    b_rounds = b
    if fixed_share != (0.0, 0.0) and len(sizes) > 1:
        small = times[0] * (1.0 - fixed_share[0])
        if small > 0 and round_part > 0:
            slope = np.log(round_part / small) / np.log(sizes[-1] / sizes[0])
            low = ROUND_SLOPE_RANGE[0] if model_name.startswith(HISTOGRAM) else slopes[0]
            b_rounds = float(min(max(slope, low), slopes[1]))

    # The probes ran ``probe_rounds`` rounds (trees, boosting iterations): the part of a fit
    # that grows with rounds scales linearly to the real count, the fixed part stays.
    def round_scale(rounds: float) -> float:
        if name is None:
            return 1.0
        return fixed_share[1] + (1.0 - fixed_share[1]) * rounds / probe_rounds

    def seconds(n_rows: float, rounds: float) -> float:
        scale = rounds / probe_rounds if name is not None else 1.0
        grown = n_rows / sizes[-1]
        return float(fixed_part * grown**b + round_part * scale * grown**b_rounds)

    factor = _round_factors(tuning, name, base, seed)
    # The final fit runs on the job's own n_jobs (the probes and trials on one core); trees
    # split across threads almost evenly.
    fit_seconds = seconds(rows, base) / _threads(pipeline)
    memory_mb = peak / 2**20 * (rows / sizes[0]) + X_train.memory_usage(deep=True).sum() / 2**20
    # Evaluation predicts on the train and holdout splits: a small share of a fit.
    evaluation = 0.1 * fit_seconds * (rows + len(X_val)) / max(rows, 1)
    evaluation += _importance_seconds(importance, timed[-1].model, X_val, round_scale(base))
    if not tuning:
        total = fixed_seconds + fit_seconds + evaluation
        basis = (
            f"timed fits on {sizes} rows, power law rows^{b:.2f} to {rows} rows"
            + (
                f", {name}={base} scaled from {few} ({fixed_share[1]:.0%} of a probe fixed,"
                f" rounds' part rows^{b_rounds:.2f})"
                if name is not None and base > few
                else ""
            )
            + f", plus {fixed_seconds:.2f}s fixed"
        )
        return Estimate(fit_seconds, memory_mb, 0, 1, total, basis, evaluation)
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
    return Estimate(fit_seconds, memory_mb, trials, parallel, total, basis, evaluation)


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
        importance=getattr(spec, "importance", None),
    )
