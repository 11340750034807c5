"""How close the dry run's time estimate comes to the actual time, on 10 varied jobs.

Each job (sizes from 1.8k to 30k rows, eight estimators, no search and grid, random,
Bayesian and halving searches) is first sent to ``POST /v1/training-jobs/validate``, whose
``estimate.total_seconds`` is compared with the job's own run time once it completes
(``estimate.actual.total_seconds``: its attempt's start to completion). The local executor
with two slots on SQLite, no registry, in this process. A trivial job first measures the
service's fixed cost per job (the ``TRAINYARD_ESTIMATE_OVERHEAD_SECONDS`` default).

    .venv/bin/python bench/estimate.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.fixtures.database import alembic_upgrade  # noqa: E402


def write_data(root: Path) -> None:
    X, y = make_classification(n_samples=30_000, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
    frame["label"] = y
    frame.to_csv(root / "clf30k.csv", index=False)
    frame.iloc[:8000].to_csv(root / "clf8k.csv", index=False)
    X, y = make_regression(n_samples=20_000, n_features=15, noise=5.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(15)])
    frame["value"] = y
    frame.to_csv(root / "reg20k.csv", index=False)


def job(
    name: str,
    path: str,
    target: str,
    algorithm: str,
    parameters: dict[str, Any] | None = None,
    tuning: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "model_name": name,
        "data_source_config": {"path": path, "target_column": target},
        "algorithm_config": {"name": algorithm, "parameters": parameters or {}},
    }
    if tuning:
        body["hyperparameter_tuning_config"] = {"cv_folds": 3, "parallel_trials": 2, **tuning}
    return name, body


JOBS = [
    job("rf-digits", "sklearn://digits", "target", "RandomForestClassifier", {"n_estimators": 200}),
    job("logreg-30k", "clf30k.csv", "label", "LogisticRegression", {"max_iter": 300}),
    job("hgb-30k", "clf30k.csv", "label", "HistGradientBoostingClassifier"),
    job(
        "ridge-random-20k",
        "reg20k.csv",
        "value",
        "Ridge",
        tuning={
            "strategy": "random",
            "max_trials": 12,
            "search_space": {"alpha": {"type": "float", "low": 0.01, "high": 100, "log": True}},
        },
    ),
    job(
        "rf-grid-8k",
        "clf8k.csv",
        "label",
        "RandomForestClassifier",
        {"n_estimators": 60},
        tuning={
            "strategy": "grid",
            "search_space": {"max_depth": [6, 12, None], "n_estimators": [30, 60]},
        },
    ),
    job(
        "xgb-bayes-8k",
        "clf8k.csv",
        "label",
        "XGBClassifier",
        {"n_estimators": 80},
        tuning={
            "strategy": "bayesian",
            "max_trials": 8,
            "search_space": {"max_depth": {"type": "int", "low": 2, "high": 8}},
        },
    ),
    job("lgbm-20k", "reg20k.csv", "value", "LGBMRegressor", {"n_estimators": 300}),
    job(
        "svc-halving-digits",
        "sklearn://digits",
        "target",
        "SVC",
        tuning={
            "strategy": "halving",
            "max_trials": 9,
            "search_space": {"C": {"type": "float", "low": 0.1, "high": 100, "log": True}},
        },
    ),
    job("extratrees-20k", "reg20k.csv", "value", "ExtraTreesRegressor", {"n_estimators": 60}),
    job(
        "gb-random-8k",
        "clf8k.csv",
        "label",
        "GradientBoostingClassifier",
        {"n_estimators": 50},
        tuning={"strategy": "random", "max_trials": 6, "search_space": {"max_depth": [2, 3, 4]}},
    ),
]


def wait(client: TestClient, job_id: str) -> dict[str, Any]:
    while True:
        body: dict[str, Any] = client.get(f"/v1/training-jobs/{job_id}").json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.1)


def run_seconds(status: dict[str, Any]) -> float:
    """The job's attempt start to completion: what ``estimate.actual.total_seconds`` holds
    when the job stored an estimate (a single fit on few rows stores none)."""
    stored = (status.get("estimate") or {}).get("actual")
    if stored:
        return float(stored["total_seconds"])
    started = datetime.fromisoformat(status["started_at"])
    return (datetime.fromisoformat(status["completed_at"]) - started).total_seconds()


def run_job(client: TestClient, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    dry = client.post("/v1/training-jobs/validate", json=body)
    assert dry.status_code == 200, dry.text
    estimate = dry.json()["estimate"]
    submitted = client.post("/v1/training-jobs", json=body)
    assert submitted.status_code == 202, submitted.text
    return estimate, wait(client, submitted.json()["job_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="run only these jobs (by name)")
    args = parser.parse_args()
    jobs = [(name, body) for name, body in JOBS if not args.only or name in args.only]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, cores: {os.cpu_count()}, "
        f"load average at start: {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_data(work)
        url = f"sqlite:///{work / 'bench.db'}"
        alembic_upgrade(url)
        settings = Settings(
            database_url=url,
            artifact_root=work / "artifacts",
            data_roots=[work],
            mlflow_tracking_uri="",
            max_concurrent_jobs=2,
        )
        with TestClient(create_app(settings)) as client:
            _, trivial = run_job(
                client, job("trivial", "sklearn://iris", "target", "LogisticRegression")[1]
            )
            print(
                f"a trivial job (iris; too small to store an estimate) ran "
                f"{run_seconds(trivial):.2f} s from its attempt's start to completion"
            )
            print("| job | estimate s | actual s | actual / estimate | within 2x |")
            print("|---|---|---|---|---|")
            within = 0
            for name, body in jobs:
                estimate, done = run_job(client, body)
                if done["status"] != "completed" or estimate is None:
                    print(
                        f"| {name} | {estimate and estimate['total_seconds']} | {done['status']}: "
                        f"{done['message']} | - | no |"
                    )
                    continue
                real = run_seconds(done)
                ratio = real / estimate["total_seconds"]
                ok = 0.5 <= ratio <= 2.0
                within += ok
                print(
                    f"| {name} | {estimate['total_seconds']:.1f} | {real:.1f} | {ratio:.2f} | "
                    f"{'yes' if ok else 'no'} |"
                )
                if not ok:
                    print(f"<!-- {name}: {estimate['basis']} -->")
            print(f"within a factor of 2: {within} of {len(jobs)}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
