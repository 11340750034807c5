"""A burst of tiny jobs against two checkouts, alternating, with where the CPU went.

For each checkout in turn (this one and ``--reference-root``), ``--rounds`` times: a fresh,
migrated database, a server (local executor, registry off), one warm-up job, then ``--jobs``
tiny jobs submitted one after the other and waited for. Prints jobs per second and the CPU
seconds per job of the server and every process it started, of PostgreSQL's server processes
(all processes of the ``postgres`` user, so run it on a database server nothing else uses),
and of this script (the client). Unlike ``bench/engine.py`` no status probe runs meanwhile,
so the figure is the engine's alone; the two checkouts alternate so both see the same noise.

    git archive <ref> | tar -x -C /tmp/ref && ln -s "$PWD/.venv" /tmp/ref/.venv
    .venv/bin/python bench/burst.py --reference-root /tmp/ref --jobs 600 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/t_bench
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine  # noqa: E402  (the bench's helpers: server, migrations, CPU of a process tree)


def postgres_cpu_seconds() -> float:
    found = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout
    return sum(engine.tree_cpu_seconds(int(pid), own=True) for pid in found.split())


def one_round(root: Path, url: str | None, jobs: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="trainyard-burst-"))
    if url is None:
        url = f"sqlite:///{folder}/burst.db"
    else:
        engine.reset_postgres(url)
    engine.migrate(url, root)
    port = engine.free_port()
    env = {
        "TRAINYARD_DATABASE_URL": url,
        "TRAINYARD_ARTIFACT_ROOT": str(folder / "artifacts"),
        "TRAINYARD_DATA_ROOTS": str(folder),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "TRAINYARD_MAX_PENDING_JOBS_PER_TENANT": str(jobs + 10),
    }
    server = engine.start_server(env, port, root, folder / "server.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            engine.run_job(client, engine.TINY)
            tree, own = (
                engine.tree_cpu_seconds(server.pid),
                engine.tree_cpu_seconds(server.pid, own=True),
            )
            database, mine = postgres_cpu_seconds(), time.process_time()
            started = time.perf_counter()
            for _ in range(jobs):
                client.post("/v1/training-jobs", json=engine.TINY).raise_for_status()
            while engine.count(client, "completed") < jobs + 1:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            return {
                "rate": jobs / elapsed,
                "tree": (engine.tree_cpu_seconds(server.pid) - tree) / jobs,
                "own": (engine.tree_cpu_seconds(server.pid, own=True) - own) / jobs,
                "database": (postgres_cpu_seconds() - database) / jobs,
                "client": (time.process_time() - mine) / jobs,
            }
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL (reset each round); default SQLite")
    parser.add_argument("--reference-root", type=Path, help="a checkout to compare with")
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    roots = {"this checkout": engine.ROOT}
    if args.reference_root is not None:
        roots = {"reference": args.reference_root.resolve(), **roots}
    print(
        f"{args.jobs} tiny jobs a round, {args.rounds} rounds each, alternating; cores: "
        f"{os.cpu_count()}; load average {os.getloadavg()[0]:.2f}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    results: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    for _ in range(args.rounds):
        for name, root in roots.items():
            result = one_round(root, args.database_url, args.jobs)
            results[name].append(result)
            print(
                f"[{name}] {result['rate']:.1f} jobs/s; CPU per job: server and its processes "
                f"{result['tree'] * 1000:.0f} ms (server process {result['own'] * 1000:.0f}), "
                f"PostgreSQL {result['database'] * 1000:.1f} ms, client "
                f"{result['client'] * 1000:.1f} ms",
                flush=True,
            )
    if len(roots) == 2:
        rates = {name: statistics.median(r["rate"] for r in rs) for name, rs in results.items()}
        print(
            f"median jobs/s: this checkout {rates['this checkout']:.1f}, reference "
            f"{rates['reference']:.1f}: {rates['this checkout'] / rates['reference']:.2f}x"
        )


if __name__ == "__main__":
    main()
