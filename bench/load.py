"""Load without loss: N submissions from C concurrent clients against a real server.

Checks that no request got a 5xx, that exactly N jobs are in the table, and that every one
of them finishes; reports submit latency p50/p99 and the time until all jobs ended.

    .venv/bin/python bench/load.py                      # SQLite file in a temp folder
    .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import TINY, free_port, migrate, percentile, reset_postgres, start_server  # noqa: E402


async def submit_all(url: str, total: int, clients: int) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await http.post(
                    "/v1/training-jobs",
                    json={**TINY, "tags": {"n": index}},
                    headers={"Idempotency-Key": f"load-{index}"},
                )
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="trainyard-load-"))
    url = args.database_url or f"sqlite:///{work}/load.db"
    if url.startswith("postgresql"):
        reset_postgres(url)
    migrate(url)
    port = free_port()
    server = start_server(
        {
            "TRAINYARD_DATABASE_URL": url,
            "TRAINYARD_ARTIFACT_ROOT": str(work / "artifacts"),
            "TRAINYARD_DATA_ROOTS": str(work),
            "TRAINYARD_MLFLOW_TRACKING_URI": "",
        },
        port,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        latencies, statuses = asyncio.run(submit_all(base, args.jobs, args.clients))
        submitted = time.perf_counter() - started
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                counts = {
                    s: http.get(
                        "/v1/training-jobs", params={"status": s, "limit": 1, "include_total": True}
                    ).json()["total"]
                    for s in ("pending", "running", "completed", "failed", "cancelled")
                }
                if counts["pending"] == 0 and counts["running"] == 0:
                    break
                time.sleep(0.5)
            total = http.get(
                "/v1/training-jobs", params={"limit": 1, "include_total": True}
            ).json()["total"]
        finished = time.perf_counter() - started
        server_errors = sum(n for code, n in statuses.items() if code >= 500)
        print(f"database: {url.split('@')[-1]}; cores: {os.cpu_count()}")
        print(
            f"{args.jobs} submissions from {args.clients} clients in {submitted:.1f} s: "
            f"status codes {dict(statuses)}; 5xx: {server_errors}"
        )
        print(
            f"submit latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms"
        )
        print(f"jobs in the table: {total}; finished: {counts}; all ended after {finished:.1f} s")
        if server_errors or total != args.jobs or counts["completed"] != args.jobs:
            raise SystemExit("LOSS OR ERRORS")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
