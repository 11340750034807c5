"""CPU of a job's three writes in one process: submit (create), claim and finish.

For this checkout and, with ``--reference-root DIR``, another one (``git archive <ref> | tar
-x -C DIR``), alternating, each round in a fresh process on a freshly migrated database: N
jobs created, then N claims (the oldest pending job each), then N finishes. Prints, per
write, the CPU of this process (``time.process_time``: SQLAlchemy, the driver and the
repository's own Python) and of PostgreSQL's server processes (every process of the
``postgres`` user, so use a database server nothing else is using), in ms per write,
medians over the rounds. The writes are the same the API and the executors make
(``JobRepository.create_job``, ``claim``, ``finish``), without HTTP and without training.

    .venv/bin/python bench/job_writes.py --reference-root /tmp/ref \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/t_bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import engine  # noqa: E402  (the bench's helpers: migrations, reset, CPU of a process)

WRITES = ("create", "claim", "finish")


def _postgres_cpu() -> float:
    found = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout
    return sum(engine.tree_cpu_seconds(int(pid), own=True) for pid in found.split())


def one_round(url: str, jobs: int) -> dict[str, list[float]]:
    """In the checkout on ``sys.path``: the writes' CPU, ms per write (this process, PG)."""
    from app.core.db import create_db_engine
    from app.jobs.lifecycle import JobStage, JobStatus
    from app.jobs.repository import JobRepository

    repository = JobRepository(create_db_engine(url))

    def values() -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "model_name": "tiny",
            "model_version": None,
            "algorithm": "DecisionTreeClassifier",
            "experiment_name": None,
            "tags": {},
            "request": {"model_name": "tiny"},
            "request_hash": "0" * 64,
            "tenant": "default",
            "idempotency_key": None,
            "max_attempts": 2,
            "max_runtime_seconds": 3600,
        }

    def finish(claim: Any) -> None:
        repository.finish(
            claim.job_id,
            claim.attempt,
            status=JobStatus.COMPLETED,
            stage=JobStage.DONE,
            message="ok",
        )

    for _ in range(20):  # warm: statements compiled, connections open
        repository.create_job(values(), pending_limit=10**9)
        finish(repository.claim(owner="bench", lease_seconds=60))
    postgres = url.startswith("postgresql")
    claims: list[Any] = []
    steps = {
        "create": lambda: repository.create_job(values(), pending_limit=10**9),
        "claim": lambda: claims.append(repository.claim(owner="bench", lease_seconds=60)),
        "finish": lambda: finish(claims.pop()),
    }
    out = {}
    for name in WRITES:
        cpu, pg = time.process_time(), _postgres_cpu() if postgres else 0.0
        for _ in range(jobs):
            steps[name]()
        pg_spent = (_postgres_cpu() - pg) if postgres else 0.0
        out[name] = [(time.process_time() - cpu) / jobs * 1000, pg_spent / jobs * 1000]
    repository.close()
    return out


def fresh_database(url: str | None, root: Path) -> str:
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='trainyard-writes-')}/jobs.db"
    else:
        engine.reset_postgres(url)
    engine.migrate(url, root)
    return url


def run_in(root: Path, url: str, jobs: int) -> dict[str, list[float]]:
    """One round in a fresh process that imports ``app`` from ``root``."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(root)!r}); sys.path.insert(1, {str(ROOT)!r});"
        "from bench.job_writes import one_round;"
        f"print(json.dumps(one_round({url!r}, {jobs})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL (reset each round); default SQLite")
    parser.add_argument("--reference-root", type=Path, help="a checkout to compare with")
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    roots = {"this checkout": ROOT}
    if args.reference_root is not None:
        roots = {"reference": args.reference_root.resolve(), **roots}
    found: dict[str, list[dict[str, list[float]]]] = {name: [] for name in roots}
    print(
        f"{args.jobs} jobs a round, {args.rounds} rounds each, alternating; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for _ in range(args.rounds):
        for name, root in roots.items():
            url = fresh_database(args.database_url, root)
            found[name].append(run_in(root, url, args.jobs))
    medians: dict[str, dict[str, tuple[float, float]]] = {}
    for name, rounds in found.items():
        medians[name] = {
            write: (
                statistics.median(r[write][0] for r in rounds),
                statistics.median(r[write][1] for r in rounds),
            )
            for write in WRITES
        }
        parts = ", ".join(
            f"{write} {python:.2f} (PostgreSQL {pg:.2f})"
            for write, (python, pg) in medians[name].items()
        )
        print(f"[{name}] CPU ms per write, this process (PostgreSQL's): {parts}")
    if "reference" in medians:
        for write in WRITES:
            mine, theirs = medians["this checkout"][write], medians["reference"][write]
            print(
                f"{write}: this process {mine[0] / theirs[0]:.2f}x, "
                f"with PostgreSQL {(mine[0] + mine[1]) / (theirs[0] + theirs[1]):.2f}x"
            )


if __name__ == "__main__":
    main()
