"""What the MLflow registry adds to a job, and how fast predictions are.

Run by hand from the repository root:

    .venv/bin/python bench/registry.py --jobs 5 --repeat-1 300 --repeat-1000 100 2>/dev/null

Everything is real and local: a fresh SQLite job database and MLflow store under a temporary
folder, the local executor with forkserver training processes, and the app in-process
(``TestClient``: the HTTP stack without a network hop). Jobs run one at a time.

1. The same job (RandomForestClassifier, 50 trees, iris) N times with the registry off and N
   times on. Reported: the `registering` stage (log params, metrics and the skops model,
   register a version, set its alias, end the run) from the job's own events; the
   fetching_data stage (where the run is started); and the whole job.
2. Predictions on the completed job: latency of POST .../predictions for 1 row and for
   1,000 rows, after one warm-up request (which loads the model into the cache); skipped
   with ``--repeat-1 0``.

On a shared machine the load moves more than the registry costs: ``--rounds N`` measures
off and on N times, alternating the order, and reports the difference of each round;
``--reference DIR`` measures another checkout's code (``git archive main | tar -x -C DIR``)
in the same rounds, with this venv:

    .venv/bin/python bench/registry.py --jobs 5 --rounds 4 --repeat-1 0 --reference /tmp/ref-main

``--job tiny`` runs the engine benchmark's tiny job (DecisionTreeClassifier, max_depth 3)
instead of the 50-tree forest. Jobs run back to back: with the registry on, the previous
job's process still draws its evaluation images (after its outcome) while the next runs.
``--gap 1`` waits a second before each submit, so each job runs alone on the machine:

    .venv/bin/python bench/registry.py --job tiny --jobs 9 --rounds 2 --gap 1 --repeat-1 0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

import app
from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
# The checkout whose code is measured (``--reference`` puts another on PYTHONPATH).
CODE_ROOT = Path(app.__file__).resolve().parents[1]
REQUEST = {
    "model_name": "bench-iris",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {"name": "RandomForestClassifier", "parameters": {"n_estimators": 50}},
    "experiment_name": "bench",
}
# ``--job``: the forest above (the figures of earlier sittings), or the engine benchmark's
# tiny job (a depth-3 tree on iris), the job the registry goal speaks of.
ALGORITHMS = {
    "forest": REQUEST["algorithm_config"],
    "tiny": {"name": "DecisionTreeClassifier", "parameters": {"max_depth": 3}},
}


def migrate(url: str) -> None:
    config = Config(str(CODE_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def settings_for(folder: Path, tracking_uri: str) -> Settings:
    url = f"sqlite:///{folder / 'trainyard.db'}"
    migrate(url)
    (folder / "data").mkdir(exist_ok=True)
    return Settings(
        database_url=url,
        artifact_root=folder / "artifacts",
        data_roots=[folder / "data"],
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_root=folder / "mlruns",
        max_concurrent_jobs=1,
        poll_interval_seconds=0.05,
    )


def wait(client: TestClient, job_id: str) -> dict[str, Any]:
    while True:
        body: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.02)


def stage_seconds(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent in each stage, from consecutive event times."""
    out: dict[str, float] = {}
    for current, following in zip(events, events[1:], strict=False):
        start = datetime.fromisoformat(current["created_at"])
        end = datetime.fromisoformat(following["created_at"])
        out[current["stage"]] = out.get(current["stage"], 0.0) + (end - start).total_seconds()
    return out


def run_jobs(
    client: TestClient, n: int, job: str, gap: float = 0.0
) -> tuple[list[dict[str, float]], list[float], str]:
    stages, totals, job_id = [], [], ""
    request = {**REQUEST, "algorithm_config": ALGORITHMS[job]}
    for _ in range(n):
        time.sleep(gap)
        job_id = client.post("/v1/training-jobs", json=request).json()["job_id"]
        done = wait(client, job_id)
        assert done["status"] == "completed", done
        events = client.get(f"/v1/training-jobs/{job_id}/events").json()
        stages.append(stage_seconds(events[1:]))  # from the claim on
        started = datetime.fromisoformat(done["started_at"])
        completed = datetime.fromisoformat(done["completed_at"])
        totals.append((completed - started).total_seconds())
    return stages, totals, job_id


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency(client: TestClient, url: str, rows: list[dict[str, float]], repeat: int) -> str:
    response = client.post(url, json={"rows": rows})  # warm-up: loads the model once
    assert response.status_code == 200, response.text
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.post(url, json={"rows": rows})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return (
        f"p50 {percentile(samples, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.1f} ms ({repeat} requests)"
    )


def measure(on: bool, args: argparse.Namespace) -> dict[str, float]:
    label = "registry on" if on else "registry off"
    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as tmp:
        folder = Path(tmp)
        uri = f"sqlite:///{folder / 'mlflow.db'}" if on else ""
        started = time.perf_counter()
        with TestClient(create_app(settings_for(folder, uri))) as client:
            startup = time.perf_counter() - started
            stages, totals, job_id = run_jobs(client, args.jobs, args.job, args.gap)
            registering = [s.get("registering", 0.0) for s in stages]
            fetching = [s.get("fetching_data", 0.0) for s in stages]
            print(
                f"{label}: app start-up {startup:.2f} s; median of {args.jobs} jobs: "
                f"whole job {median_ms(totals)}, fetching_data {median_ms(fetching)}, "
                f"registering {median_ms(registering)}",
                flush=True,
            )
            names = sorted({name for s in stages for name in s})
            per_stage = ", ".join(
                f"{name} {median_ms([s.get(name, 0.0) for s in stages])}" for name in names
            )
            print(f"{label}: median per stage: {per_stage}", flush=True)
            if on and args.repeat_1 > 0:
                frame = load_iris(as_frame=True).frame.drop(columns="target")
                records = frame.sample(1000, replace=True, random_state=0).to_dict("records")
                url = f"/v1/training-jobs/{job_id}/predictions"
                print(f"predict 1 row: {latency(client, url, records[:1], args.repeat_1)}")
                print(f"predict 1000 rows: {latency(client, url, records, args.repeat_1000)}")
    names = {name for s in stages for name in s}
    return {
        "whole": statistics.median(totals),
        "stages": {name: statistics.median(s.get(name, 0.0) for s in stages) for name in names},
    }


def run_one(only: str, checkout: Path | None, label: str) -> dict[str, Any]:
    """One configuration in a process of its own (the forkserver and what it preloads are per
    process); ``checkout``: measure that checkout's ``app`` instead of this one's."""
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    # In the checkout's folder: Alembic (``prepend_sys_path = .``) puts the working directory
    # first on sys.path, and the forkserver, started after the migration, imports ``app``
    # from there: elsewhere the training processes would run this checkout's code.
    output = subprocess.run(
        [sys.executable, __file__, *sys.argv[1:], "--only", only],
        cwd=checkout or ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ).stdout
    result: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(f"[{label}] {line}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument(
        "--job",
        choices=sorted(ALGORITHMS),
        default="forest",
        help="the job (default forest)",
    )
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds between one job's end and the next submit (default 0: back to back)",
    )
    parser.add_argument("--repeat-1", type=int, default=300)
    parser.add_argument("--repeat-1000", type=int, default=100)
    parser.add_argument(
        "--rounds", type=int, default=1, help="off and on measured this many times, alternated"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        help="another checkout (e.g. main, from git archive) measured in the same rounds",
    )
    parser.add_argument("--only", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(f"code: {Path(app.__file__).parent}")
        result = measure(args.only == "on", args)
        print(f"RESULT {json.dumps(result)}")
        return
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()}", flush=True)
    checkouts: dict[str, Path | None] = {"this checkout": None}
    if args.reference is not None:
        checkouts = {"reference": args.reference.resolve(), **checkouts}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"off": [], "on": []} for name in checkouts
    }
    for number in range(args.rounds):
        # Alternate the order, so that a load that rises or falls through the run falls on both.
        order = [(name, only) for name in checkouts for only in ("off", "on")]
        if number % 2:
            order.reverse()
        for name, only in order:
            label = f"round {number + 1}, {name}, {only}"
            results[name][only].append(run_one(only, checkouts[name], label))
    print(f"load average after: {os.getloadavg()}")
    for name, by in results.items():
        added = [
            (on["whole"] - off["whole"]) * 1000 for off, on in zip(by["off"], by["on"], strict=True)
        ]
        stages = {
            stage: statistics.median(r["stages"].get(stage, 0.0) for r in by["on"]) * 1000
            for stage in ("fetching_data", "registering")
        }
        print(
            f"{name}: MLflow adds (median whole job, on - off) per round "
            f"{', '.join(f'{a:.0f}' for a in added)} ms; median {statistics.median(added):.0f} ms; "
            f"on: fetching_data {stages['fetching_data']:.0f} ms, "
            f"registering {stages['registering']:.0f} ms"
        )


if __name__ == "__main__":
    main()
