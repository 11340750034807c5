"""What the evaluation report costs a job, against the job's own training in the same run.

For each case it trains through the trainer once (``train``: fit, metrics and the report with
the default importance budget), then times on the same fitted pipeline and validation split:
the metrics alone (what stage ``evaluating`` did before the report), the report without
feature importance, the permutation importance alone, and drawing the report's images (what
a registry run adds). Every figure is a median of ``--repeats`` and is given as a ratio to
the case's whole ``train`` time, measured in the same run. Run from the repository root:

    .venv/bin/python bench/evaluation.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402

from app.integrations.registry.plots import draw_report  # noqa: E402
from app.trainer import TrainingSpec, train  # noqa: E402
from app.trainer.core import split  # noqa: E402
from app.trainer.evaluation import evaluate  # noqa: E402
from app.trainer.importance import ImportanceBudget, permutation_report  # noqa: E402
from app.trainer.report import evaluation_report  # noqa: E402


def synthetic(rows: int, columns: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)), columns=[f"x{i}" for i in range(columns)]
    )
    frame["plan"] = rng.choice(["basic", "plus", "pro"], size=rows)
    frame["target"] = np.where(frame["x0"] + (frame["plan"] == "pro") > 0.5, "yes", "no")
    return frame


CASES: list[tuple[str, Callable[[], pd.DataFrame], str, dict[str, Any]]] = [
    ("iris", lambda: load_iris(as_frame=True).frame, "RandomForestClassifier", {}),
    ("breast_cancer", lambda: load_breast_cancer(as_frame=True).frame, "LGBMClassifier", {}),
    ("diabetes", lambda: load_diabetes(as_frame=True).frame, "Ridge", {}),
    ("synthetic 20000x21", lambda: synthetic(20_000, 20), "HistGradientBoostingClassifier", {}),
]


def timed(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.2f}, {args.repeats} repeats (medians)")  # fmt: skip
    header = ("case", "algorithm", "val rows", "train s", "metrics", "report w/o imp.",
              "importance", "images")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    budget = ImportanceBudget()
    for name, load, algorithm, parameters in CASES:
        frame = load()
        spec = TrainingSpec(algorithm=algorithm, target_column="target", parameters=parameters)
        whole = timed(lambda: train(spec, frame), args.repeats)  # noqa: B023
        result = train(spec, frame)
        X, y = frame.drop(columns="target"), frame["target"]
        _, X_val, _, y_val, _ = split(X, y, spec, result.task)
        model, task = result.pipeline, result.task
        metrics = timed(
            lambda: evaluate(model, task, {"validation": (X_val, y_val)}),  # noqa: B023
            args.repeats,
        )
        core = timed(
            lambda: evaluation_report(
                model,  # noqa: B023
                task,  # noqa: B023
                X_val,  # noqa: B023
                y_val,  # noqa: B023
                budget=ImportanceBudget(seconds=0),
            ),
            args.repeats,
        )
        importance = timed(
            lambda: permutation_report(model, task, X_val, y_val, seed=0, budget=budget),  # noqa: B023
            args.repeats,
        )
        report = result.evaluation or {}

        def images() -> None:
            with tempfile.TemporaryDirectory() as folder:
                draw_report(report, Path(folder))  # noqa: B023

        drawn = timed(images, args.repeats)
        cells = [name, algorithm, str(len(X_val)), f"{whole:.2f}"] + [
            f"{seconds:.3f}s ({seconds / whole:.2f}x)"
            for seconds in (metrics, core, importance, drawn)
        ]
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
