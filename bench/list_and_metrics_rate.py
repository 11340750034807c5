"""Requests/s and server CPU per request of the list's first page and of /metrics.

A guard for the status-route work (bench/status_vs_bare.py): one Trainyard server (one uvicorn
worker, local executor, registry off, an API key), three tiny jobs, then wrk on
``GET /v1/training-jobs?limit=20`` and ``GET /metrics`` in turn. The CPU time is the server
process's own (user + system), less distorted by a loaded machine than the rate.

    .venv/bin/python bench/list_and_metrics_rate.py
    .venv/bin/python bench/list_and_metrics_rate.py --database-url postgresql+psycopg://postgres@127.0.0.1/t
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import TINY, free_port, migrate, reset_postgres, run_job, start_server  # noqa: E402
from status_vs_bare import cpu_seconds, server_options  # noqa: E402

KEY = "bench-list-key"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=int, default=6, help="length of one wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    from app.core.auth import hash_key

    work = Path(tempfile.mkdtemp(prefix="trainyard-list-"))
    url = args.database_url or f"sqlite:///{work}/list.db"
    if url.startswith("postgresql"):
        reset_postgres(url)
    migrate(url)
    port = free_port()
    env = {
        "TRAINYARD_DATABASE_URL": url,
        "TRAINYARD_ARTIFACT_ROOT": str(work / "artifacts"),
        "TRAINYARD_DATA_ROOTS": str(work),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "TRAINYARD_API_KEYS": f"bench:{hash_key(KEY)}",
    }
    server = start_server(env, port)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client:
            for _ in range(3):
                run_job(client, TINY)
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(
            f"database: {url.split('@')[-1]}; {server_options()}; load average "
            f"{os.getloadavg()[0]:.2f}; started {started}"
        )
        for name, path in (
            ("list, first page of 20", "/v1/training-jobs?limit=20"),
            ("/metrics", "/metrics"),
        ):
            before = cpu_seconds(server.pid)
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "-H",
                    f"Authorization: Bearer {KEY}",
                    f"http://127.0.0.1:{port}{path}",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            cpu = cpu_seconds(server.pid) - before
            count = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            print(
                f"{name:24s} {rate:8.0f} req/s; server CPU {cpu / count * 1e6:.0f} us/request; "
                f"non-2xx {bad[1] if bad else 0}; load average after {os.getloadavg()[0]:.2f}"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
