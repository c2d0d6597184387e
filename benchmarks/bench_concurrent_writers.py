"""Concurrent writers: N processes × M ``mlstore.run`` blocks on one store, at once.

Each run logs one small, distinct file as an Examples artifact (so every run publishes a
new blob) and ends with its MLMD write. Reported: failed runs (the target is zero),
latency of a whole run (p50 / p99 / max), throughput, and what the store holds
afterwards: executions, their states, blobs that no artifact or execution references (orphans).

    python benchmarks/bench_concurrent_writers.py --procs 8 --runs 1000            # SQLite
    python benchmarks/bench_concurrent_writers.py --procs 8 --runs 1000 --backend postgresql
    python benchmarks/bench_concurrent_writers.py --store mysql://u:p@127.0.0.1:3306/db?artifact_root=/tmp/b

tests/reliability/test_concurrent_writers.py runs the same at 8 × 150 on SQLite.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIPELINE = "concurrent"


def worker(uri: str, index: int, runs: int, start_at: float, scratch: str) -> dict:
    """One writer process: ``runs`` runs; returns latencies (s) and failure messages."""
    import mlstore  # noqa: PLC0415

    store = mlstore.open(uri)
    folder = Path(scratch) / f"w{index}"
    folder.mkdir(parents=True, exist_ok=True)
    latencies, failures = [], []
    time.sleep(max(0.0, start_at - time.time()))  # every process starts writing at once
    for i in range(runs):
        data = folder / "rows.csv"
        data.write_text(f"worker,run\n{index},{i}\n")
        t0 = time.perf_counter()
        try:
            with mlstore.run(PIPELINE, "ExampleGen", {"i": i}, store=store, run_id=f"w{index}-{i}") as run:
                run.log_artifact(data, "Examples", properties={"span": i + 1})
        except Exception as e:  # noqa: BLE001 - counted and reported, never hidden
            failures.append(f"{type(e).__name__}: {e}"[:300])
        latencies.append(time.perf_counter() - t0)
    store.close()
    return {"latencies": latencies, "failures": failures}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def run_writers(uri: str, procs: int, runs: int) -> dict:
    """Runs ``procs`` writer processes against ``uri``; returns the figures (see the module docstring)."""
    import mlstore  # noqa: PLC0415
    from mlstore.index.run_blobs import run_blob_digests  # noqa: PLC0415

    mlstore.open(uri).close()  # create the store first: the run measures writes, not creation
    with tempfile.TemporaryDirectory(prefix="mlstore-conc-") as scratch:
        start_at = time.time() + 3.0 + 0.3 * procs
        children = [subprocess.Popen([sys.executable, __file__, "--worker", uri, str(k), str(runs), str(start_at),
                                      scratch], stdout=subprocess.PIPE, text=True) for k in range(procs)]
        results = []
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"writer process exited {child.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.time() - start_at
    latencies = [x for r in results for x in r["latencies"]]
    failures = [f for r in results for f in r["failures"]]
    with mlstore.open(uri) as store:
        executions = store.executions(pipeline=PIPELINE)
        artifacts = store.artifacts(pipeline=PIPELINE)
        referenced = {a.digest for a in store.artifacts()}
        with store.engine.connect() as connection:  # the runs' package list (packages_blob)
            referenced |= run_blob_digests(connection)
        orphans = [d for d in store.blobs.digests() if d not in referenced]
    states: dict[str, int] = {}
    for e in executions:
        states[e.state] = states.get(e.state, 0) + 1
    return {
        "procs": procs, "runs_per_proc": runs, "runs": len(latencies), "failed_runs": len(failures),
        "failures": failures[:10], "executions": len(executions), "execution_states": states,
        "live_artifacts": sum(a.state == "LIVE" for a in artifacts), "orphan_blobs": len(orphans),
        "p50_s": round(statistics.median(latencies), 4) if latencies else 0.0,
        "p99_s": round(percentile(latencies, 0.99), 4), "max_s": round(max(latencies, default=0.0), 4),
        "runs_per_s": round(len(latencies) / wall, 1) if wall > 0 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "mysql", "postgresql"), default="sqlite")
    parser.add_argument("--store", help="an existing store URI instead of a fresh one on --backend")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        uri, index, runs, start_at, scratch = args.worker
        print(json.dumps(worker(uri, int(index), int(runs), float(start_at), scratch)))
        return
    if args.store:
        print(json.dumps(run_writers(args.store, args.procs, args.runs), indent=1))
        return
    from tests import backends  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="mlstore-conc-store-") as tmp:
        fresh = backends.fresh_store_uri(args.backend, Path(tmp))
        uri = next(fresh)
        try:
            figures = run_writers(uri, args.procs, args.runs)
        finally:
            fresh.close()
    print(json.dumps({"backend": args.backend, **figures}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
