"""Time and peak memory to load 1,000,000 rows x 20 columns (6 used), CSV and Parquet:
the data layer client's fetch() (which also fingerprints every byte) against the best plain
pandas call on the same file.

Each case runs in a fresh subprocess, so its peak RSS (ru_maxrss of the child, which counts
pyarrow's allocations too, unlike tracemalloc) is its own. Run by hand:

    .venv/bin/python bench/data_loading.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

USED = ["f0", "f3", "f7", "c0", "c2", "target"]

CASE = r"""
import json, sys, time, resource
from pathlib import Path
kind, fmt, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
used = json.loads(sys.argv[4])
import pandas as pd
if kind == "client":
    from app.integrations.data_layer import LocalDataLayerClient
    from app.schemas import DataSourceConfig
    client = LocalDataLayerClient([path.parent])
    config = DataSourceConfig(path=path.name, target_column="target")
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
if kind == "client":
    frame = client.fetch(config, columns=used).frame
elif fmt == "csv":
    frame = pd.read_csv(path, usecols=used, engine="pyarrow")
else:
    frame = pd.read_parquet(path, columns=used)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
peak = after.ru_maxrss
assert frame.shape == (%d, 6), frame.shape
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak / 1024}))
"""


def make_files(directory: Path, rows: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    data: dict[str, object] = {f"f{i}": rng.normal(size=rows) for i in range(14)}
    for i in range(5):
        data[f"c{i}"] = rng.choice(["alpha", "beta", "gamma", "delta"], size=rows)
    data["target"] = rng.integers(0, 2, size=rows)
    frame = pd.DataFrame(data)
    paths = {"csv": directory / "bench.csv", "parquet": directory / "bench.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"])
    return paths


def run(kind: str, fmt: str, path: Path, rows: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CASE % rows, kind, fmt, str(path), json.dumps(USED)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


WARM = r"""
import json, statistics, sys, time
from pathlib import Path
fmt, path, repeat = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
used = json.loads(sys.argv[4])
import pandas as pd
from app.integrations.data_layer import LocalDataLayerClient
from app.schemas import DataSourceConfig
client = LocalDataLayerClient([path.parent])
config = DataSourceConfig(path=path.name, target_column="target")
cases = {
    "pandas": (lambda: pd.read_csv(path, usecols=used, engine="pyarrow"))
    if fmt == "csv" else (lambda: pd.read_parquet(path, columns=used)),
    "client": lambda: client.fetch(config, columns=used),
}
out = {k: {"seconds": [], "cpu": []} for k in cases}
for _ in range(repeat):
    for kind, call in cases.items():
        w, c = time.perf_counter(), time.process_time()
        call()
        out[kind]["seconds"].append(time.perf_counter() - w)
        out[kind]["cpu"].append(time.process_time() - c)
summary = {}
for k, d in out.items():
    summary[k] = {m: statistics.median(v) for m, v in d.items()}
    summary[k].update({m + "_min": min(v) for m, v in d.items()})
print(json.dumps(summary))
"""


def warm(fmt: str, path: Path, repeat: int) -> None:
    """Steady state in one process, as in a worker forked from the preloaded forkserver."""
    out = subprocess.run(
        [sys.executable, "-c", WARM, fmt, str(path), str(repeat), json.dumps(USED)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    r = json.loads(out.stdout)
    p, c = r["pandas"], r["client"]
    for stat, key in (("median", ""), ("min", "_min")):
        print(
            f"  warm, one process, {stat} of {repeat}: pandas {p['seconds' + key]:.3f} s "
            f"(CPU {p['cpu' + key]:.3f} s), client {c['seconds' + key]:.3f} s "
            f"(CPU {c['cpu' + key]:.3f} s); ratio wall "
            f"{c['seconds' + key] / p['seconds' + key]:.3f}, "
            f"CPU {c['cpu' + key] / p['cpu' + key]:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.rows)
        print(
            f"{args.rows} rows x 20 columns, 6 used; "
            f"{args.repeat} fresh processes each, interleaved"
        )
        for fmt, path in paths.items():
            size_mb = path.stat().st_size / 1024**2
            results: dict[str, list[dict[str, float]]] = {"pandas": [], "client": []}
            for _ in range(args.repeat):
                for kind in ("pandas", "client"):  # interleaved: same cache and load
                    results[kind].append(run(kind, fmt, path, args.rows))
            best = (
                "pd.read_csv(usecols, engine='pyarrow')"
                if fmt == "csv"
                else "pd.read_parquet(columns)"
            )
            print(f"\n{fmt} ({size_mb:.0f} MB)")
            stats = {}
            for kind, label in (("pandas", best), ("client", "client.fetch(columns)")):
                seconds = [r["seconds"] for r in results[kind]]
                cpu = [r["cpu"] for r in results[kind]]
                peaks = [r["peak_mb"] for r in results[kind]]
                stats[kind] = (
                    min(seconds),
                    statistics.median(seconds),
                    statistics.median(cpu),
                    max(peaks),
                )
                print(
                    f"  {label:40s} wall min {min(seconds):6.3f} s, median "
                    f"{statistics.median(seconds):6.3f} s; CPU median "
                    f"{statistics.median(cpu):6.3f} s; peak RSS {max(peaks):7.1f} MB"
                )
            p, c = stats["pandas"], stats["client"]
            print(
                f"  ratio client/pandas: wall min {c[0] / p[0]:.3f}, wall median "
                f"{c[1] / p[1]:.3f}, CPU median {c[2] / p[2]:.3f}, peak RSS {c[3] / p[3]:.3f}"
            )
            warm(fmt, path, max(args.repeat, 5))


if __name__ == "__main__":
    main()
