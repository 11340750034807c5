"""Job-engine benchmark: per-job overhead, throughput, and API latency under load.

Runs a real server (uvicorn subprocess) on a fresh, migrated database and measures:
1. overhead of one tiny job (submit -> completed, polled every 5 ms) against the same
   training done in this process with ``app.trainer.train``;
2. jobs per second for N tiny jobs submitted at once, with p50/p99 of GET status meanwhile;
3. p50/p99/max of GET /v1/training-jobs while a ~20-second training runs.

Beside the wall times, which the machine's load distorts, it prints what load does not move
much: CPU seconds per job of the server and every process it started (from /proc), and the
SQL statements and commits of one job (submit, claim, the attempt, the supervisor's record),
counted in this process with SQLAlchemy's events.

With ``--reference-root DIR`` (a checkout of another commit, e.g. ``git archive main | tar -x
-C DIR``) a second server from that checkout runs beside this one, on its own database, and
the tiny jobs alternate between the two: a before/after in one run, under the same load.

    .venv/bin/python bench/engine.py                       # SQLite file in a temp folder
    .venv/bin/python bench/engine.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python bench/engine.py --tiny 20 --jobs 200 --reference-root /tmp/trainyard-main
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT", ROOT))
sys.path.insert(0, str(APP_ROOT))

TINY = {
    "model_name": "tiny",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {"name": "DecisionTreeClassifier", "parameters": {"max_depth": 3}},
}
LONG = {
    "model_name": "long",
    "data_source_config": {"path": "sklearn://digits", "target_column": "target"},
    "algorithm_config": {"name": "GradientBoostingClassifier", "parameters": {"n_estimators": 0}},
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrate(url: str, root: Path = ROOT) -> None:
    """The schema of the code in ``root`` (a reference checkout may have fewer migrations)."""
    env = {**os.environ, "TRAINYARD_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )


def ensure_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    base, name = url.rsplit("/", 1)
    engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        if names:  # every table the migrations made (jobs, webhooks, ...) and their version
            connection.execute(text(f"DROP TABLE IF EXISTS {names} CASCADE"))
    engine.dispose()


def start_server(
    env: dict[str, str], port: int, root: Path = ROOT, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """The server on ``port``, from the checkout ``root``; its log (the jobs' stage lines
    with their times) goes to ``log``."""
    output = open(log, "ab") if log is not None else None  # noqa: SIM115  (the child's)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env={**os.environ, **env},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    if output is not None:
        output.close()
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                todo.append(int(child))
    return found


def tree_cpu_seconds(pid: int, *, own: bool = False) -> float:
    """CPU seconds of ``pid`` and of every process it started: each living process's own
    time plus that of its children which have exited (``cutime``/``cstime``); ``own``: of
    ``pid`` alone (the server: API, dispatcher, supervisors)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for current in [pid] if own else [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime stime, and cutime cstime (the server's own children are only the forkserver
        # and the resource tracker, which live until it ends)
        total += sum(int(value) for value in fields[11 : 13 if own else 15])
    return total / ticks


def count_statements(url: str, root: Path) -> str:
    """Statements and commits of one tiny job, counted in a process of ``root``'s code, on a
    database of its own (the server's dispatcher would claim its jobs)."""
    env = {**os.environ, "BENCH_APP_ROOT": str(root)}
    work = tempfile.mkdtemp(prefix="trainyard-count-")
    if url.startswith("postgresql"):
        url = url + "_count"
        ensure_database(url)
        reset_postgres(url)
    else:
        url = f"sqlite:///{work}/count.db"
    migrate(url, root)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--count-statements", url, work],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _count_statements_here(url: str, work: str) -> None:
    from sqlalchemy import event

    from app.config import Settings
    from app.core.db import create_db_engine
    from app.execution import attempt as attempt_module
    from app.execution.payload import AttemptPayload
    from app.jobs.repository import JobRepository
    from app.jobs.schemas import TrainingJobRequest
    from app.service import MLModelTrainingService

    settings = Settings(
        database_url=url,
        artifact_root=f"{work}/artifacts",
        data_roots=[work],
        mlflow_tracking_uri="",
    )
    service = MLModelTrainingService(settings=settings)
    payload = AttemptPayload(settings=settings.model_dump(mode="json"))
    counts = {"statements": 0, "commits": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    def commit(*_: Any) -> None:
        counts["commits"] += 1

    request = TrainingJobRequest.model_validate(TINY)
    child = JobRepository(create_db_engine(url))
    for engine in (service.engine, child.engine):
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
    rows = []
    for _ in range(3):  # the first compiles and connects; the last is the one reported
        counts.update(statements=0, commits=0)
        status, _created = service.jobs.record(request, idempotency_key=None, tenant="")
        submit = dict(counts)
        counts.update(statements=0, commits=0)
        claim = service.repository.claim(owner="bench", lease_seconds=30, job_id=status.job_id)
        assert claim is not None
        attempt_module._run(str(claim.job_id), claim.attempt, payload, settings, child)
        child.engine.dispose()
        recorded = service.repository.poll(claim.job_id, claim.attempt) is None
        rows.append((submit, dict(counts), recorded))
    submit, run, recorded = rows[-1]
    assert recorded
    print(
        f"statements per job: submit {submit['statements']} ({submit['commits']} commits); "
        f"claim + attempt + record {run['statements']} ({run['commits']} commits)"
    )


# Lines of the server's log that mark a job's way, in order: the segments between them show
# where a job's time goes (the API, the dispatcher, the child, the supervisor).
MARKS = (
    ("submitted (", "submitted"),
    ("started in process", "attempt started"),
    ("stage preprocessing", "preprocessing"),
    ("stage training", "training"),
    ("stage evaluating", "evaluating"),
    ("stage storing_artifacts", "storing"),
    ("completed: trained", "completed"),
    (": recorded", "recorded"),
)


def segments(log: Path, job_ids: set[str]) -> str:
    """Median milliseconds between consecutive marks of ``job_ids`` in the server's log."""
    import json
    from datetime import datetime

    seen: dict[str, dict[str, float]] = {job_id: {} for job_id in job_ids}
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        job_id = record.get("job_id") or next(
            (word for word in message.split() if word in seen), None
        )
        if job_id not in seen:
            continue
        at = datetime.fromisoformat(record["time"]).timestamp()
        for text, name in MARKS:
            if text in message:
                seen[job_id].setdefault(name, at)
    names = [name for _, name in MARKS]
    parts = []
    for first, then in zip(names, names[1:], strict=False):
        gaps = [(m[then] - m[first]) * 1000 for m in seen.values() if first in m and then in m]
        if gaps:
            parts.append(f"{first} -> {then} {statistics.median(gaps):.0f}")
    return "median ms: " + ", ".join(parts)


def run_job(
    client: httpx.Client, body: dict[str, Any], poll: float = 0.005
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
    while True:
        status = client.get(f"/v1/training-jobs/{job_id}").json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return time.perf_counter() - started, status
        time.sleep(poll)


def count(client: httpx.Client, status: str) -> int:
    """How many jobs have ``status`` (the total is asked for: a page does not count)."""
    params = {"status": status, "limit": 1, "include_total": "true"}
    total: int = client.get("/v1/training-jobs", params=params).json()["total"]
    return total


def in_process_fit(repeats: int) -> list[float]:
    from app.integrations.data_layer import LocalDataLayerClient
    from app.schemas import DataSourceConfig
    from app.trainer import TrainingSpec, train

    frame = (
        LocalDataLayerClient([ROOT])
        .fetch(DataSourceConfig(path="sklearn://iris", target_column="target"))
        .frame
    )
    spec = TrainingSpec(
        algorithm="DecisionTreeClassifier", target_column="target", parameters={"max_depth": 3}
    )
    train(spec, frame)  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        train(spec, frame)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument(
        "--reference-root",
        type=Path,
        help="a checkout to compare with: its server runs the same tiny jobs, alternating",
    )
    parser.add_argument("--count-statements", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--tiny", type=int, default=30, help="tiny jobs run one at a time")
    parser.add_argument("--jobs", type=int, default=1000, help="tiny jobs submitted at once")
    parser.add_argument(
        "--long-estimators",
        type=int,
        default=250,
        help="GradientBoosting stages of the long job (about 20 s here)",
    )
    args = parser.parse_args()
    if args.count_statements:
        _count_statements_here(*args.count_statements)
        return

    work = Path(tempfile.mkdtemp(prefix="trainyard-bench-"))
    url = args.database_url or f"sqlite:///{work}/bench.db"
    servers = {"this checkout": (ROOT, url, work)}
    if args.reference_root is not None:
        other = Path(tempfile.mkdtemp(prefix="trainyard-bench-reference-"))
        other_url = f"sqlite:///{other}/bench.db"
        if url.startswith("postgresql"):
            other_url = url + "_reference"
        servers = {"reference": (args.reference_root.resolve(), other_url, other), **servers}
    clients: dict[str, httpx.Client] = {}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, (root, db_url, folder) in servers.items():
        if db_url.startswith("postgresql"):
            ensure_database(db_url)
            reset_postgres(db_url)
        migrate(db_url, root)
        port = free_port()
        env = {
            "TRAINYARD_DATABASE_URL": db_url,
            "TRAINYARD_ARTIFACT_ROOT": str(folder / "artifacts"),
            "TRAINYARD_DATA_ROOTS": str(folder),
            "TRAINYARD_MLFLOW_TRACKING_URI": "",
        }
        processes[name] = start_server(env, port, root, folder / "server.log")
        print(f"[{name}] server log: {folder / 'server.log'}")
        clients[name] = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    server = processes["this checkout"]
    print(
        f"database: {url.split('@')[-1]}; cores: {os.cpu_count()}; "
        f"load average: {os.getloadavg()[0]:.2f}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    try:
        client = clients["this checkout"]
        for each in clients.values():
            run_job(each, TINY)  # warm the server and the forkserver
        walls: dict[str, list[float]] = {name: [] for name in clients}
        tiny_ids: dict[str, set[str]] = {name: set() for name in clients}
        cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
        server_cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
        for _ in range(args.tiny):
            for name, each in clients.items():
                before = tree_cpu_seconds(processes[name].pid)
                before_own = tree_cpu_seconds(processes[name].pid, own=True)
                wall, status = run_job(each, TINY)
                assert status["status"] == "completed", status
                walls[name].append(wall)
                tiny_ids[name].add(str(status["job_id"]))
                cpu[name] += tree_cpu_seconds(processes[name].pid) - before
                server_cpu[name] += tree_cpu_seconds(processes[name].pid, own=True) - before_own
        local = in_process_fit(args.tiny)
        print(f"same training in process:      median {statistics.median(local) * 1000:.1f} ms")
        for name in clients:
            overhead = statistics.median(walls[name]) - statistics.median(local)
            print(
                f"[{name}] tiny job, submit -> completed: median "
                f"{statistics.median(walls[name]) * 1000:.0f} ms, "
                f"p90 {percentile(walls[name], 90) * 1000:.0f} ms "
                f"({args.tiny} jobs one at a time); overhead per job: median "
                f"{overhead * 1000:.0f} ms; CPU per job (server and its processes, "
                f"polling included): {cpu[name] / args.tiny * 1000:.0f} ms, of which the "
                f"server process {server_cpu[name] / args.tiny * 1000:.0f} ms"
            )
        for name, (root, db_url, folder) in servers.items():
            print(f"[{name}] {count_statements(db_url, root)}")
            print(f"[{name}] tiny jobs' way, {segments(folder / 'server.log', tiny_ids[name])}")
        for name, each in list(clients.items()):
            if name != "this checkout":
                each.close()
                processes[name].terminate()
                processes[name].wait()
        # Throughput, with GET status latency measured meanwhile.
        latencies: list[float] = []
        stop = threading.Event()
        probe_id = client.post("/v1/training-jobs", json=TINY).json()["job_id"]

        def probe() -> None:
            with httpx.Client(base_url=client.base_url, timeout=60) as other:
                while not stop.is_set():
                    started = time.perf_counter()
                    other.get(f"/v1/training-jobs/{probe_id}")
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.01)

        prober = threading.Thread(target=probe)
        prober.start()
        cpu_before = tree_cpu_seconds(server.pid)
        started = time.perf_counter()
        ids = [
            client.post("/v1/training-jobs", json=TINY).json()["job_id"] for _ in range(args.jobs)
        ]
        submitted = time.perf_counter() - started
        while count(client, "completed") < args.jobs + args.tiny + 2:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu_spent = tree_cpu_seconds(server.pid) - cpu_before
        stop.set()
        prober.join()
        failed = count(client, "failed")
        print(
            f"{args.jobs} tiny jobs: submitted in {submitted:.2f} s, all completed in "
            f"{elapsed:.2f} s = {args.jobs / elapsed:.1f} jobs/s ({failed} failed); "
            f"CPU {cpu_spent / args.jobs * 1000:.0f} ms per job (server and its processes); "
            f"load average now {os.getloadavg()[0]:.2f}"
        )
        print(
            f"GET status under that load: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.1f} ms ({len(latencies)} requests)"
        )
        del ids

        # List latency while a long training runs.
        body = {
            **LONG,
            "algorithm_config": {
                **LONG["algorithm_config"],
                "parameters": {"n_estimators": args.long_estimators},
            },
        }
        job_id = client.post("/v1/training-jobs", json=body).json()["job_id"]
        while client.get(f"/v1/training-jobs/{job_id}").json()["status"] == "pending":
            time.sleep(0.05)
        listing: list[float] = []
        started = time.perf_counter()
        while client.get(f"/v1/training-jobs/{job_id}").json()["status"] == "running":
            t0 = time.perf_counter()
            client.get("/v1/training-jobs", params={"limit": 100})
            listing.append(time.perf_counter() - t0)
            time.sleep(0.05)
        trained = time.perf_counter() - started
        print(
            f"GET /v1/training-jobs (100 items) during a {trained:.1f} s training: "
            f"p50 {percentile(listing, 50) * 1000:.1f} ms, "
            f"p99 {percentile(listing, 99) * 1000:.1f} ms, "
            f"max {max(listing) * 1000:.1f} ms ({len(listing)} requests)"
        )
    finally:
        client.close()
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
