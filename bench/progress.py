"""What reporting progress inside a fit costs, on the trainer itself (no server):

1. A random forest grown in 20 warm_start chunks against the same forest in one call
   (the models are identical; only the wall time may differ).
2. XGBoost, LightGBM and CatBoost with their per-round progress callback against without.

    .venv/bin/python bench/progress.py [--rows 50000] [--trees 300] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from app.trainer.algorithms import build_estimator, get_algorithm  # noqa: E402
from app.trainer.fitting import fit_pipeline  # noqa: E402


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    X, y = make_classification(args.rows, 10, n_informative=6, random_state=0)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("RandomForestClassifier", {"n_estimators": args.trees, "max_depth": 8}),
        ("XGBClassifier", {"n_estimators": args.trees}),
        ("LGBMClassifier", {"n_estimators": args.trees}),
        ("CatBoostClassifier", {"iterations": args.trees}),
    ]
    print(f"{args.rows} rows, {args.trees} trees/rounds, n_jobs={args.n_jobs}")
    for name, parameters in cases:
        parameters = {**parameters, "n_jobs": args.n_jobs, "random_state": 0}
        model = build_estimator(get_algorithm(name), parameters)
        plain = timed(lambda m=model: clone(m).fit(X, y))
        ticks: list[float] = []

        def with_progress(m: Any = model, t: list[float] = ticks) -> None:
            fit_pipeline(
                Pipeline([("model", clone(m))]),
                X,
                y,
                task="classification",
                seed=0,
                report=lambda f, _m: t.append(f),
            )

        reported = timed(with_progress)
        print(
            f"{name:24} one call {plain:6.2f}s  with progress {reported:6.2f}s "
            f"({reported / plain - 1:+.0%}), {len(set(ticks))} distinct progress values"
        )


if __name__ == "__main__":
    main()
