"""What a search space may hold, checked at submit; how many fits a search will make."""

from __future__ import annotations

import math
from typing import Any

from sklearn.metrics import get_scorer_names

from app.trainer.algorithms import CLASSIFICATION, AlgorithmInfo, build_estimator
from app.trainer.errors import SpecError

FIELD = "hyperparameter_tuning_config"
HALVING_FACTOR = 3
DEFAULT_OBJECTIVE = {CLASSIFICATION: "accuracy", "regression": "r2"}


def is_distribution(dimension: Any) -> bool:
    return isinstance(dimension, dict) and "type" in dimension


def objective_of(tuning: dict[str, Any], task: str) -> str:
    name: str = tuning.get("objective_metric") or DEFAULT_OBJECTIVE[task]
    return name


def planned_trials(tuning: dict[str, Any]) -> int:
    """How many candidates the search will evaluate (halving counts each round)."""
    space = tuning["search_space"]
    strategy = tuning["strategy"]
    if strategy == "grid" or (
        strategy == "halving" and not any(is_distribution(d) for d in space.values())
    ):
        candidates = math.prod(len(choices(d)) for d in space.values())
    else:
        candidates = int(tuning["max_trials"])
    if strategy != "halving":
        return candidates
    total, remaining = 0, candidates
    while True:
        total += remaining
        if remaining <= 1:
            return total
        remaining = math.ceil(remaining / HALVING_FACTOR)


def choices(dimension: Any) -> list[Any]:
    if isinstance(dimension, list):
        return dimension
    if dimension["type"] == "categorical":
        return list(dimension["choices"])
    raise TypeError("a range has no finite list of choices")


def check_search(tuning: dict[str, Any], info: AlgorithmInfo, task: str, *, max_fits: int) -> None:
    """Submit-time checks; each failure names the offending field."""
    strategy = tuning["strategy"]
    space: dict[str, Any] = tuning["search_space"]
    for name, dimension in space.items():
        where = f"{FIELD}.search_space.{name}"
        if name not in info.defaults:
            raise SpecError(where, f"{info.name} has no parameter {name!r}")
        if name == "n_jobs":
            raise SpecError(where, "n_jobs is set by resource_config, not searched")
        if is_distribution(dimension) and strategy == "grid":
            raise SpecError(
                where,
                "the grid strategy needs a list of values; use random, bayesian or halving "
                "for ranges",
            )
        if is_distribution(dimension) and dimension["type"] in ("int", "float"):
            probes = [dimension["low"], dimension["high"]]
        else:
            probes = choices(dimension)
        for value in probes:
            try:
                build_estimator(info, {name: value}, field=f"{FIELD}.search_space")
            except SpecError as exc:
                raise SpecError(where, exc.message) from None
    objective = objective_of(tuning, task)
    if objective not in get_scorer_names():
        raise SpecError(
            f"{FIELD}.objective_metric",
            f"unknown scorer {objective!r}; use a scikit-learn scorer name such as "
            f"{DEFAULT_OBJECTIVE[task]!r}",
        )
    if tuning.get("direction") == "minimize":
        raise SpecError(
            f"{FIELD}.direction",
            f"scikit-learn scorers are maximised ({objective!r} included; losses are negated, "
            "as in 'neg_root_mean_squared_error'); leave direction out or use maximize",
        )
    fits = planned_trials(tuning) * int(tuning["cv_folds"])
    if fits > max_fits:
        raise SpecError(
            f"{FIELD}.search_space" if strategy == "grid" else f"{FIELD}.max_trials",
            f"the search needs {planned_trials(tuning)} candidates x {tuning['cv_folds']} folds "
            f"= {fits} fits, over the limit of {max_fits} (TRAINYARD_MAX_SEARCH_FITS)",
        )
