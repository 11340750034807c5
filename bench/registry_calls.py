"""Where the registry's milliseconds go: CPU time of each MLflow call of one job's run.

Run by hand from the repository root (or from another checkout, with its own venv, to compare):

    .venv/bin/python bench/registry_calls.py --processes 5 2>/dev/null

Each sample is a fresh process, as a training process is: it imports what the forkserver
preloads, trains the bench's job (RandomForestClassifier, 50 trees, iris) and saves its
artifacts, opens what a spare attempt process of that checkout opens before its job, then
runs the job's registry run (``RegistryRun.begin`` and ``complete``) on a SQLite store made
once for the run. Reported: the median over the processes of the CPU time (``process_time``,
which the machine's load distorts far less than wall time) of each call, and the run's
total CPU and wall time. The store's syncs (``fsync``) are what load hides from CPU time;
count them with ``strace -f -c -e trace=fsync,fdatasync``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
REQUEST = {
    "model_name": "bench-iris",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {"name": "RandomForestClassifier", "parameters": {"n_estimators": 50}},
    "experiment_name": "bench",
}
CLIENT_CALLS = [
    "get_experiment_by_name",
    "create_experiment",
    "create_run",
    "log_batch",
    "create_logged_model",
    "log_outputs",
    "log_model_artifacts",
    "log_artifacts",
    "create_model_version",
    "create_registered_model",
    "set_registered_model_alias",
    "set_terminated",
]
OURS = ["log_evaluation", "register_model", "log_model_file"]


def timed(owner: Any, names: list[str], into: dict[str, float]) -> None:
    for name in names:
        original = getattr(owner, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def wrapper(*args: Any, __f: Any = original, __n: str = name, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return __f(*args, **kwargs)
            finally:
                key = f"{owner.__name__}.{__n}"
                into[key] = into.get(key, 0.0) + time.process_time() - started

        setattr(owner, name, wrapper)


def sample(folder: Path) -> dict[str, float]:
    """One job's registry run in this process; CPU seconds per call."""
    sys.path.insert(0, str(ROOT))
    # What the forkserver imports, first: it opts out of MLflow's telemetry before MLflow loads.
    importlib.import_module("app.integrations.registry.preload")
    from mlflow.tracking import MlflowClient

    from app.config import Settings
    from app.execution.registration import RegistryRun
    from app.integrations.data_layer import build_data_client
    from app.integrations.registry.mlflow import MlflowRegistryClient
    from app.jobs.models import TrainingJob
    from app.jobs.schemas import TrainingJobRequest
    from app.jobs.spec import training_spec
    from app.trainer import train
    from app.trainer.artifacts import MODEL_FILE, write_artifacts

    settings = Settings(
        database_url=f"sqlite:///{folder / 'unused.db'}",
        artifact_root=folder / "artifacts",
        data_roots=[folder],
    )
    request = TrainingJobRequest.model_validate(REQUEST)
    dataset = build_data_client(settings).fetch(request.data_source_config, columns=None)
    result = train(training_spec(request, settings), dataset.frame)
    job = TrainingJob(
        id=uuid.uuid4(),
        model_name=request.model_name,
        model_version=uuid.uuid4().hex[:8],
        algorithm=request.algorithm_config.name,
        tags={},
    )
    directory = folder / "artifacts" / str(job.id)
    write_artifacts(
        directory,
        result.pipeline,
        metrics=result.metrics,
        spec={},
        lineage={},
        evaluation=result.evaluation,
    )
    client = MlflowRegistryClient(
        f"sqlite:///{folder / 'mlflow.db'}", artifact_root=folder / "mlruns"
    )
    from app.execution import registration

    # What a spare attempt process does before it is given a job (nothing, where the checkout
    # has no ``open_registry``).
    getattr(registration, "open_registry", lambda _client: None)(client)

    cpu: dict[str, float] = {}
    timed(MlflowClient, CLIENT_CALLS, cpu)
    timed(MlflowRegistryClient, OURS, cpu)
    started, wall = time.process_time(), time.perf_counter()
    run = RegistryRun(client, job.id, 1)
    run.begin(job, request)
    cpu["RegistryRun.begin"] = time.process_time() - started
    run.complete(request.model_name, result, dataset.frame, directory / MODEL_FILE)
    cpu["whole run (begin + complete)"] = time.process_time() - started
    cpu["whole run, wall"] = time.perf_counter() - wall
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--sample", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sample:
        print("SAMPLE " + json.dumps(sample(Path(args.sample))))
        return
    print(f"{ROOT}: cores {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    samples: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as tmp:
        from app.integrations.registry.mlflow import MlflowRegistryClient

        store = Path(tmp)
        MlflowRegistryClient(
            f"sqlite:///{store / 'mlflow.db'}", artifact_root=store / "mlruns"
        ).initialize()
        for _ in range(args.processes):
            output = subprocess.run(
                [sys.executable, __file__, "--sample", tmp],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            ).stdout
            line = next(x for x in output.splitlines() if x.startswith("SAMPLE "))
            for key, value in json.loads(line.removeprefix("SAMPLE ")).items():
                samples[key].append(value)
    print(f"median of {args.processes} processes, CPU ms (wall where said):")
    for key, values in samples.items():
        print(f"  {key:45s} {statistics.median(values) * 1000:7.1f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
