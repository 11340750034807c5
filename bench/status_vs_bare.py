"""Status GET throughput against a bare FastAPI endpoint, both started in this run.

Starts two servers on one uvicorn worker each: ``bench/bare_app.py`` (an async endpoint
returning a dict, nothing else) and Trainyard (``app.main:app``, local executor, registry off,
an API key configured so every request is authenticated). Runs one tiny job to completion,
then loads ``GET /v1/training-jobs/{id}`` on each server in turn with wrk (``-c32``),
alternating rounds so both see the same noise, and prints requests/s, p50/p99 and the ratio.

Both servers run with uvicorn's default ``--loop auto --http auto`` (uvloop and httptools when
installed, as ``make run`` and the image do); the script prints which were picked. Beside the
rate it prints the server process's own CPU time per request (user + system, from
``/proc/<pid>/stat``), which a loaded machine distorts far less than a rate: the ratio of the
two is what the rate ratio would be if each server had a core of its own. On PostgreSQL the
database server's CPU is not in it.

    .venv/bin/python bench/status_vs_bare.py
    .venv/bin/python bench/status_vs_bare.py --database-url postgresql+psycopg://postgres@127.0.0.1/t
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import (  # noqa: E402
    TINY,
    free_port,
    migrate,
    reset_postgres,
    run_job,
    start_server,
)

KEY = "bench-status-key"


def _latency_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match[1]), match[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, *, seconds: int, connections: int, header: str | None, pid: int
) -> tuple[float, float, float, int, float]:
    """requests/s, p50 ms, p99 ms, the count of non-2xx answers and the server's CPU
    microseconds per request of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        command += ["-H", header]
    cpu = cpu_seconds(pid)
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - cpu
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    count = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return (
        rate,
        _latency_ms(out, "50%"),
        _latency_ms(out, "99%"),
        int(bad[1]) if bad else 0,
        cpu / count * 1e6,
    )


def server_options() -> str:
    """What uvicorn's ``--loop auto --http auto`` pick in this environment."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn --loop auto ({loop}) --http auto ({http}), one worker each"


def start_bare(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).resolve().parent,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/training-jobs/x", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the bare server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=int, default=10, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, alternating")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed")

    from app.core.auth import hash_key

    work = Path(tempfile.mkdtemp(prefix="trainyard-status-"))
    url = args.database_url or f"sqlite:///{work}/status.db"
    if url.startswith("postgresql"):
        reset_postgres(url)
    migrate(url)
    port, bare_port = free_port(), free_port()
    env = {
        "TRAINYARD_DATABASE_URL": url,
        "TRAINYARD_ARTIFACT_ROOT": str(work / "artifacts"),
        "TRAINYARD_DATA_ROOTS": str(work),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "TRAINYARD_API_KEYS": f"bench:{hash_key(KEY)}",
    }
    server = start_server(env, port)
    bare = start_bare(bare_port)
    auth = f"Authorization: Bearer {KEY}"
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client:
            _, status = run_job(client, TINY)
            assert status["status"] == "completed", status
            job_id = status["job_id"]
        targets = {
            "bare FastAPI (async, returns a dict)": (
                f"http://127.0.0.1:{bare_port}/v1/training-jobs/{job_id}",
                None,
                bare.pid,
            ),
            "Trainyard GET /v1/training-jobs/{id}": (
                f"http://127.0.0.1:{port}/v1/training-jobs/{job_id}",
                auth,
                server.pid,
            ),
        }
        load = os.getloadavg()[0]
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        for target, header, pid in targets.values():  # warm both
            wrk(target, seconds=2, connections=args.connections, header=header, pid=pid)
        results: dict[str, list[tuple[float, float, float, int, float]]] = {
            name: [] for name in targets
        }
        for _ in range(args.rounds):
            for name, (target, header, pid) in targets.items():
                results[name].append(
                    wrk(
                        target,
                        seconds=args.seconds,
                        connections=args.connections,
                        header=header,
                        pid=pid,
                    )
                )
        print(
            f"database: {url.split('@')[-1]}; cores: {os.cpu_count()}; "
            f"load average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}; "
            f"started {started}"
        )
        print(
            f"{server_options()}; wrk -t2 -c{args.connections} -d{args.seconds}s, "
            f"{args.rounds} rounds per server"
        )
        medians, cpus = {}, {}
        for name, runs in results.items():
            rate = statistics.median(r[0] for r in runs)
            medians[name] = rate
            cpus[name] = statistics.median(r[4] for r in runs)
            print(
                f"{name:40s} {rate:8.0f} req/s (rounds {', '.join(f'{r[0]:.0f}' for r in runs)}); "
                f"p50 {statistics.median(r[1] for r in runs):.1f} ms, "
                f"p99 {statistics.median(r[2] for r in runs):.1f} ms; "
                f"non-2xx {sum(r[3] for r in runs)}; "
                f"server CPU {cpus[name]:.0f} us/request"
            )
        bare_rate, ours = medians.values()
        bare_cpu, our_cpu = cpus.values()
        print(f"ratio Trainyard / bare: {ours / bare_rate:.2f}x")
        print(f"ratio of CPU per request, bare / Trainyard: {bare_cpu / our_cpu:.2f}x")
    finally:
        for process in (server, bare):
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
