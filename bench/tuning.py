"""Tuning benchmark, on the trainer itself (no server):

1. On a 2-parameter space (SVC: C and gamma, log-scaled), how many trials Bayesian search
   (Optuna TPE) needs before its best CV score is within 1% of the best score of an 8 x 8
   grid over the same ranges, against the grid's 64 trials. Several seeds.
2. Wall time of the same random search with parallel_trials=2 against 1.

    .venv/bin/python bench/tuning.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402

from app.trainer import TrainingSpec, train  # noqa: E402

C_RANGE = (0.01, 100.0)
GAMMA_RANGE = (1e-4, 1.0)


def search(
    frame: Any, algorithm: str, tuning: dict[str, Any]
) -> tuple[list[dict[str, Any]], float]:
    trials: list[dict[str, Any]] = []
    spec = TrainingSpec(
        algorithm=algorithm,
        target_column="target",
        tuning={
            "objective_metric": None,
            "direction": None,
            "cv_folds": 3,
            "parallel_trials": 1,
            "timeout_seconds": None,
            "early_stopping": False,
            "random_state": None,
            "max_trials": 10,
            **tuning,
        },
    )
    started = time.perf_counter()
    train(spec, frame, on_trial=trials.append)
    return trials, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--grid", type=int, default=8, help="values per parameter in the grid")
    args = parser.parse_args()

    frame = load_breast_cancer(as_frame=True).frame
    grid_space = {
        "C": [float(v) for v in np.geomspace(*C_RANGE, args.grid)],
        "gamma": [float(v) for v in np.geomspace(*GAMMA_RANGE, args.grid)],
    }
    grid_trials, grid_seconds = search(
        frame, "SVC", {"strategy": "grid", "search_space": grid_space}
    )
    grid_best = max(t["mean_score"] for t in grid_trials if t["state"] == "complete")
    target = grid_best * 0.99
    print(
        f"grid {args.grid}x{args.grid}: {len(grid_trials)} trials, best CV accuracy "
        f"{grid_best:.4f}, {grid_seconds:.1f} s; target (within 1%): {target:.4f}"
    )

    needed = []
    for seed in range(args.seeds):
        trials, _ = search(
            frame,
            "SVC",
            {
                "strategy": "bayesian",
                "search_space": {
                    "C": {"type": "float", "low": C_RANGE[0], "high": C_RANGE[1], "log": True},
                    "gamma": {
                        "type": "float",
                        "low": GAMMA_RANGE[0],
                        "high": GAMMA_RANGE[1],
                        "log": True,
                    },
                },
                "max_trials": len(grid_trials),
                "random_state": seed,
            },
        )
        best, reached = -np.inf, None
        for index, trial in enumerate(trials, start=1):
            if trial["state"] == "complete":
                best = max(best, trial["mean_score"])
            if reached is None and best >= target:
                reached = index
        needed.append(reached if reached is not None else float("inf"))
        print(
            f"bayesian seed {seed}: reached the target at trial {reached} "
            f"(best {best:.4f} after {len(trials)})"
        )
    print(
        f"bayesian trials to within 1% of the grid's best: median "
        f"{statistics.median(needed)}, max {max(needed)}, against {len(grid_trials)} grid trials"
    )

    digits = load_digits(as_frame=True).frame
    walls = {}
    for parallel in (1, 2):
        _, seconds = search(
            digits,
            "RandomForestClassifier",
            {
                "strategy": "random",
                "search_space": {
                    "n_estimators": {"type": "int", "low": 50, "high": 150},
                    "max_depth": {"type": "int", "low": 4, "high": 16},
                },
                "max_trials": 12,
                "parallel_trials": parallel,
                "random_state": 0,
            },
        )
        walls[parallel] = seconds
        print(f"random search, 12 trials x 3 folds, parallel_trials={parallel}: {seconds:.1f} s")
    print(f"speed-up of parallel_trials=2: {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
