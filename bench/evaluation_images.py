"""What drawing a job's evaluation images costs, on canvases kept from report to report against
new ones, and in a process forked from one that drew them before (the forkserver's warm-up).

Run from the repository root:

    .venv/bin/python bench/evaluation_images.py --repeats 15

1. In this process, CPU seconds (``time.process_time``) per report, medians of ``--repeats``,
   the two ways alternating: ``new``, every image on a new canvas (figure, axes and ticks made
   again, no kept frame: what each report cost before ``Canvases``); ``kept``, the process's
   canvases, whose frames are put back when they are the same (the service's way). Reports:
   a depth-3 tree on iris (3 classes, 5 images), on breast cancer (2 classes, 5 images), and a
   regression tree on diabetes (3 images).
2. A process forked from a parent that had imported matplotlib and drawn nothing (``cold``,
   the forkserver before), and from one that had drawn the warm-up report (``warm``, as the
   forkserver does now): CPU of the iris report drawn first in the child, median of
   ``--forks`` children.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

from app.integrations.registry import plots  # noqa: E402
from app.trainer.report import evaluation_report  # noqa: E402


def reports() -> dict[str, dict[str, Any]]:
    made = {}
    for name, loader, task in (
        ("iris", load_iris, "classification"),
        ("breast_cancer", load_breast_cancer, "classification"),
        ("diabetes", load_diabetes, "regression"),
    ):
        X, y = loader(return_X_y=True, as_frame=True)
        X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2, random_state=0)
        model_class = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
        model = model_class(max_depth=3, random_state=0).fit(X_train, y_train)
        made[name] = evaluation_report(model, task, X_valid, y_valid)
    return made


def cpu_ms(action: Any) -> float:
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


def in_process(report: dict[str, Any], folder: Path, repeats: int) -> dict[str, float]:
    kept = plots.Canvases()
    plots.draw_report(report, folder, kept)  # first use of each canvas
    plots.draw_report(report, folder, plots.Canvases())
    times: dict[str, list[float]] = {"new": [], "kept": []}
    for _ in range(repeats):
        times["new"].append(cpu_ms(lambda: plots.draw_report(report, folder, plots.Canvases())))
        times["kept"].append(cpu_ms(lambda: plots.draw_report(report, folder, kept)))
    return {way: statistics.median(values) for way, values in times.items()}


def first_in_child(report: dict[str, Any], folder: Path) -> float:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        spent = cpu_ms(lambda: plots.draw_report(report, folder, plots.CANVASES))
        os.write(write, f"{spent}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        spent = float(answer.read())
    os.waitpid(pid, 0)
    return spent


def forked(forks: int, warm: bool) -> float:
    """In a child of a new interpreter (this script again), so that ``cold`` means cold."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", "warm" if warm else "cold", "--forks", str(forks)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--forks", type=int, default=3)
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    made = reports()
    with tempfile.TemporaryDirectory(prefix="trainyard-images-") as tmp:
        folder = Path(tmp)
        if args.child:
            # Both import matplotlib first, as the forkserver's registry preload does.
            import matplotlib.backends.backend_agg  # noqa: F401
            import matplotlib.figure  # noqa: F401

            if args.child == "warm":
                plots.warm_up()
            import gc  # as the forkserver's preload ends: the children's collector skips these

            gc.collect()
            gc.freeze()
            spent = [first_in_child(made["iris"], folder) for _ in range(args.forks)]
            print(statistics.median(spent))
            return
        print(
            f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        for name, report in made.items():
            result = in_process(report, folder, args.repeats)
            print(
                f"{name}: CPU per report, new canvases {result['new']:.1f} ms, kept "
                f"{result['kept']:.1f} ms: {result['kept'] / result['new']:.2f}x"
            )
        cold = forked(args.forks, warm=False)
        warm = forked(args.forks, warm=True)
        print(
            f"iris, first report in a forked process: parent drew nothing {cold:.0f} ms, "
            f"parent drew the warm-up report {warm:.0f} ms: {warm / cold:.2f}x"
        )


if __name__ == "__main__":
    main()
