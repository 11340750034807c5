"""What the evaluation report costs a job, against the job's own training in the same run.

For each case the reference is the job's training (``train``: fit, metrics and the report)
with the feature importance off; then, on the same fitted pipeline and validation split, it times:
the metrics alone (what stage ``evaluating`` did before the report), the report without
feature importance, the permutation importance alone, and drawing the report's images (what
a registry run adds). Every figure is a median of ``--repeats`` and is given as a ratio to
the case's reference, measured in the same run. Run from the repository root:

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
from dataclasses import replace
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
    header = ("case", "algorithm", "val rows", "reference s", "metrics", "report w/o imp.",
              "importance", "images")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, load, algorithm, parameters in CASES:
        print(" | ".join(measure(name, load(), algorithm, parameters, args.repeats)))


def measure(
    name: str, frame: pd.DataFrame, algorithm: str, parameters: dict[str, Any], repeats: int
) -> list[str]:
    spec = TrainingSpec(algorithm=algorithm, target_column="target", parameters=parameters)
    # The reference: the job's training without the importance (fit, metrics, the rest of
    # the report, which costs about what the metrics do).
    reference = replace(spec, importance=ImportanceBudget(seconds=0))
    base = timed(lambda: train(reference, frame), repeats)
    result = train(spec, frame)
    X, y = frame.drop(columns="target"), frame["target"]
    _, X_val, _, y_val, _ = split(X, y, spec, result.task)
    model, task = result.pipeline, result.task
    metrics = timed(lambda: evaluate(model, task, {"validation": (X_val, y_val)}), repeats)
    off = ImportanceBudget(seconds=0)
    core = timed(lambda: evaluation_report(model, task, X_val, y_val, budget=off), repeats)
    budget = ImportanceBudget()
    importance = timed(
        lambda: permutation_report(model, task, X_val, y_val, seed=0, budget=budget), repeats
    )
    report = result.evaluation or {}

    def images() -> None:
        with tempfile.TemporaryDirectory() as folder:
            draw_report(report, Path(folder))

    drawn = timed(images, repeats)
    return [name, algorithm, str(len(X_val)), f"{base:.2f}"] + [
        f"{seconds:.3f}s ({seconds / base:.2f}x)" for seconds in (metrics, core, importance, drawn)
    ]


if __name__ == "__main__":
    main()
