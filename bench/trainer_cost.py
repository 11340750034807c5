"""What training costs a job in process: ``train`` + ``write_artifacts``, this checkout against
a reference checkout (another branch or main, with its own virtualenv), in one run.

Each checkout runs in a process of its own (its own interpreter and imports, warmed up by one
job of each case first); the parent asks them in turn for a round of jobs, so both see the
same machine load. Per job it records the CPU time (``time.process_time``: what load distorts
least) and the wall time; the table gives medians and the after/before ratio of each. It also
checks that both checkouts give the same metrics and feature importance for the same job.

Cases: the engine benchmark's tiny job (DecisionTreeClassifier max_depth=3 on
``sklearn://iris``) and a medium one (RandomForestClassifier, 50 trees, one core, on 20,000
synthetic rows of 20 numeric columns and one category column). Run from the repository root:

    .venv/bin/python bench/trainer_cost.py --reference /work/main
    .venv/bin/python bench/trainer_cost.py --reference /work/main --rounds 5 --tiny 20 --medium 1
    .venv/bin/python bench/trainer_cost.py --parts 100   # this checkout's tiny job, by part
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def medium_frame() -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows, columns = 20_000, 20
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)), columns=[f"x{i}" for i in range(columns)]
    )
    frame["plan"] = rng.choice(["basic", "plus", "pro"], size=rows)
    signal = frame["x0"] + frame["x1"] * frame["x2"] + (frame["plan"] == "pro")
    frame["target"] = np.where(signal + rng.normal(size=rows) > 0.5, "yes", "no")
    return frame


def worker(root: Path) -> None:
    """Serve rounds on stdin/stdout for the checkout at ``root``."""
    sys.path.insert(0, str(root))
    import warnings

    warnings.simplefilter("ignore")
    from app.integrations.data_layer import LocalDataLayerClient
    from app.schemas import DataSourceConfig
    from app.trainer import TrainingSpec, train
    from app.trainer.artifacts import write_artifacts

    iris = LocalDataLayerClient([root]).fetch(
        DataSourceConfig(path="sklearn://iris", target_column="target")
    )
    cases = {
        "tiny": (
            TrainingSpec("DecisionTreeClassifier", "target", parameters={"max_depth": 3}),
            iris.frame,
        ),
        "medium": (
            TrainingSpec(
                "RandomForestClassifier", "target", parameters={"n_estimators": 50}, n_jobs=1
            ),
            medium_frame(),
        ),
    }
    folder = Path(tempfile.mkdtemp(prefix="trainer-cost-"))

    def job(name: str) -> tuple[float, float, Any]:
        spec, frame = cases[name]
        wall, cpu = time.perf_counter(), time.process_time()
        result = train(spec, frame)
        write_artifacts(
            folder / name,
            result.pipeline,
            metrics=result.metrics,
            spec={"algorithm": spec.algorithm},
            lineage={},
            evaluation=result.evaluation,
        )
        return time.perf_counter() - wall, time.process_time() - cpu, result

    for name in cases:
        job(name)  # imports, caches, first compilations
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        walls, cpus = [], []
        result: Any = None
        for _ in range(request["jobs"]):
            wall, cpu, result = job(request["case"])
            walls.append(wall)
            cpus.append(cpu)
        evaluation = result.evaluation or {}
        importance = evaluation.get("feature_importance") or {}
        answer = {
            "wall": walls,
            "cpu": cpus,
            "metrics": result.metrics,
            "importance": {
                f["feature"]: f["importance_mean"] for f in importance.get("features", [])
            },
            "n_repeats": importance.get("n_repeats"),
        }
        print(json.dumps(answer), flush=True)


def parts(root: Path, jobs: int) -> None:
    """CPU time of each part of the tiny job's training in this checkout (medians)."""
    sys.path.insert(0, str(root))
    import warnings

    warnings.simplefilter("ignore")
    from app.integrations.data_layer import LocalDataLayerClient
    from app.schemas import DataSourceConfig
    from app.trainer import TrainingSpec, train
    from app.trainer.artifacts import write_artifacts
    from app.trainer.core import prepare
    from app.trainer.evaluation import named_metrics
    from app.trainer.fitting import fit_pipeline
    from app.trainer.importance import ImportanceBudget, permutation_report
    from app.trainer.predictions import predict_splits
    from app.trainer.report import evaluation_report

    frame = (
        LocalDataLayerClient([root])
        .fetch(DataSourceConfig(path="sklearn://iris", target_column="target"))
        .frame
    )
    spec = TrainingSpec("DecisionTreeClassifier", "target", parameters={"max_depth": 3})
    task = "classification"
    result = train(spec, frame)
    model, data = result.pipeline, prepare(spec, frame, task)
    validation, training = predict_splits(model, [data.X_val, data.X_train], task)
    splits = {"validation": (data.y_val, validation), "train": (data.y_train, training)}
    folder = Path(tempfile.mkdtemp(prefix="trainer-parts-"))
    off = ImportanceBudget(seconds=0)

    def fit() -> None:
        unfitted = prepare(spec, frame, task).pipeline
        fit_pipeline(unfitted, data.X_train, data.y_train, task=task, seed=0, report=listen)

    def listen(fraction: float, message: str | None) -> None:
        return None  # what the job's own progress callback would receive

    steps: list[tuple[str, Any]] = [
        ("train (all of it)", lambda: train(spec, frame)),
        ("  prepare: columns, target, seeded split, unfitted pipeline",
         lambda: prepare(spec, frame, task)),
        ("  prepare + fit", fit),
        ("  predictions of both splits",
         lambda: predict_splits(model, [data.X_val, data.X_train], task)),
        ("  metrics of both splits", lambda: named_metrics(model, task, splits)),
        ("  report without importance", lambda: evaluation_report(
            model, task, data.X_val, data.y_val, budget=off, predictions=validation)),
        ("  permutation importance", lambda: permutation_report(
            model, task, data.X_val, data.y_val, seed=0, budget=ImportanceBudget(),
            predictions=validation)),
        ("write_artifacts", lambda: write_artifacts(
            folder, model, metrics=result.metrics, spec={}, lineage={},
            evaluation=result.evaluation)),
    ]  # fmt: skip
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load average "
        f"{os.getloadavg()[0]:.2f}; {root}; CPU ms, median of {jobs}"
    )
    for name, action in steps:
        action()
        times = []
        for _ in range(jobs):
            started = time.process_time()
            action()
            times.append(time.process_time() - started)
        print(f"{name:<62} {statistics.median(times) * 1e3:8.2f}")


class Checkout:
    def __init__(self, label: str, root: Path, python: Path) -> None:
        self.label, self.root = label, root
        self.process = subprocess.Popen(
            [str(python), str(HERE), "--worker", str(root)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.read())["ready"]

    def read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker ({self.root}) exited")
        return line

    def round(self, case: str, jobs: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"case": case, "jobs": jobs}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.read())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.stdout.strip() + ("+changes" if dirty else "")


def same(a: dict[str, float], b: dict[str, float], skip: tuple[str, ...] = ()) -> bool:
    keys = {k for k in a.keys() | b.keys() if not k.startswith(skip)}
    return all(
        k in a and k in b and math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in keys
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, default=Path("/work/main"))
    parser.add_argument("--reference-python", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", type=int, default=20, help="tiny jobs per round")
    parser.add_argument("--medium", type=int, default=1, help="medium jobs per round")
    parser.add_argument(
        "--parts", type=int, default=0, help="only time each part of the tiny job, N times"
    )
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    if args.parts:
        parts(HERE.parents[1], args.parts)
        return
    ours_root = HERE.parents[1]
    reference_python = args.reference_python or args.reference / ".venv" / "bin" / "python"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_before = os.getloadavg()
    before = Checkout("before", args.reference, reference_python)
    after = Checkout("after", ours_root, ours_root / ".venv" / "bin" / "python")
    samples: dict[tuple[str, str], dict[str, list[float]]] = {}
    checks: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        for case, jobs in (("tiny", args.tiny), ("medium", args.medium)):
            if jobs < 1:
                continue
            answers = {}
            for checkout in (before, after):
                answer = checkout.round(case, jobs)
                answers[checkout.label] = answer
                into = samples.setdefault((case, checkout.label), {"wall": [], "cpu": []})
                into["wall"] += answer["wall"]
                into["cpu"] += answer["cpu"]
            a, b = answers["before"], answers["after"]
            # The fit's own time is a metric of neither; every other figure must agree.
            metrics_same = same(a["metrics"], b["metrics"], skip=("fit_",))
            importance_same = same(a["importance"], b["importance"])
            checks.setdefault(case, []).append(
                f"metrics {'same' if metrics_same else 'DIFFER'}, importance "
                f"{'same' if importance_same else 'DIFFER'} "
                f"({a['n_repeats']} vs {b['n_repeats']} repeats)"
            )
    before.close()
    after.close()
    load_after = os.getloadavg()
    print(
        f"# {started}, load average {load_before[0]:.2f} -> {load_after[0]:.2f}; "
        f"before: {args.reference} ({commit(args.reference)}), after: {ours_root} "
        f"({commit(ours_root)}); {args.rounds} rounds of {args.tiny} tiny and "
        f"{args.medium} medium jobs, interleaved"
    )
    print("| case | jobs | before CPU ms | after CPU ms | CPU after/before | "
          "before wall ms | after wall ms | wall after/before |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in ("tiny", "medium"):
        if (case, "before") not in samples:
            continue
        b, a = samples[(case, "before")], samples[(case, "after")]
        cpu_b, cpu_a = statistics.median(b["cpu"]) * 1e3, statistics.median(a["cpu"]) * 1e3
        wall_b, wall_a = statistics.median(b["wall"]) * 1e3, statistics.median(a["wall"]) * 1e3
        print(
            f"| {case} | {len(a['cpu'])} | {cpu_b:.1f} | {cpu_a:.1f} | {cpu_a / cpu_b:.2f}x | "
            f"{wall_b:.1f} | {wall_a:.1f} | {wall_a / wall_b:.2f}x |"
        )
    for case, notes in checks.items():
        print(f"# {case}: " + "; ".join(sorted(set(notes))))


if __name__ == "__main__":
    main()
