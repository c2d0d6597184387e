"""Cold start: the first full upstream lineage answer in a fresh process.

A CLI call, a notebook or a new server replica starts with an empty lineage cache. Each
measurement runs in its own subprocess on a store built by ``bench_core.py`` (``--dir``
holds ``store/`` and raw MLMD's ``raw.sqlite``, the same records):

* mlstore, snapshot: the cache starts from ``store/lineage-cache.npz``
  (mlstore/index/graph_snapshot.py), then reads what the index added since;
* mlstore, no snapshot: the cache is built from the index tables (as before snapshots);
* raw MLMD: the same graph by repeated ``get_lineage_subgraph`` calls (100-hop cap), as
  ``bench_core.py`` times it warm.

Timed per process: the first lineage call, and opening the store plus that call; and
the process's peak RSS.
Also: the snapshot's size, and the first call of a process that has to write it.

    python benchmarks/bench_core.py --days 10000 --dir /tmp/b10k     # builds the stores
    python benchmarks/bench_cold_start.py --dir /tmp/b10k
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(mode: str, work: Path, model: int, raw_model: int) -> dict:
    """One measurement, in this (fresh) process."""
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    if mode == "raw":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_core import RawMLMD  # noqa: PLC0415

        raw = RawMLMD(work / "raw.sqlite")
        t1 = time.perf_counter()
        count = raw.full_lineage(raw_model)
    else:
        import mlstore  # noqa: PLC0415
        from mlstore.index.graph_cache import GraphCache  # noqa: PLC0415

        store = mlstore.open(str(work / "store"))
        if mode == "no-snapshot":
            store.graph_cache = GraphCache(store.engine)
        t1 = time.perf_counter()
        count = store.lineage(f"artifact:{model}", "up").node_count
        store.close()
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"first_ms": (t2 - t1) * 1000, "open_and_first_ms": (t2 - t0) * 1000, "nodes": count, "rss_mb": peak_mb}


def measure(mode: str, work: Path, model: int, raw_model: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--dir", str(work), "--model", str(model),
                          "--raw-model", str(raw_model)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def newest_models(work: Path) -> tuple[int, int]:
    sys.path.insert(0, str(ROOT))
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(work / "raw.sqlite") as raw:
        raw_model = raw.execute("SELECT max(a.id) FROM Artifact a JOIN Type t ON a.type_id = t.id "
                                "WHERE t.name = 'Model'").fetchone()[0]
    with sqlite3.connect(work / "store" / "index.sqlite") as index:
        model = index.execute("SELECT max(id) FROM mlstore_artifact WHERE type = 'Model'").fetchone()[0]
    return model, raw_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="A directory bench_core.py built (store/, raw.sqlite).")
    parser.add_argument("--repeat", type=int, default=5, help="Processes per mlstore measurement.")
    parser.add_argument("--skip-raw", action="store_true",
                        help="Leave raw MLMD out (minutes per call at 100,000 days).")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raw-model", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.dir)
    if args.child:
        print(json.dumps(child(args.child, work, args.model, args.raw_model)))
        return
    model, raw_model = newest_models(work)
    snapshot = work / "store" / "lineage-cache.npz"
    snapshot.unlink(missing_ok=True)
    writing = measure("snapshot", work, model, raw_model)  # builds the cache and writes the snapshot
    runs = {mode: [measure(mode, work, model, raw_model) for _ in range(args.repeat)]
            for mode in ("snapshot", "no-snapshot")}
    if not args.skip_raw:
        runs["raw"] = [measure("raw", work, model, raw_model) for _ in range(max(1, args.repeat // 2))]
    assert len({r["nodes"] for rs in [*runs.values(), [writing]] for r in rs}) == 1, "the graphs differ"

    def median(mode, key):
        return statistics.median(r[key] for r in runs[mode])

    raw_first = median("raw", "first_ms") if "raw" in runs else float("nan")
    print(f"\ncold start, {work}: first full upstream lineage in a fresh process "
          f"[{writing['nodes']} nodes], medians of {args.repeat} processes")
    print(f"{'measure':52} {'first call':>11} {'open+first':>11} {'raw/this':>9} {'peak RSS MB':>12}")
    for mode, label in (("snapshot", "mlstore, cache from the snapshot (ms)"),
                        ("no-snapshot", "mlstore, cache built from the index (ms)"),
                        ("raw", "raw MLMD get_lineage_subgraph calls (ms)")):
        if mode in runs:
            first = median(mode, "first_ms")
            print(f"{label:52} {first:11.1f} {median(mode, 'open_and_first_ms'):11.1f} {raw_first / first:8.1f}x "
                  f"{median(mode, 'rss_mb'):12.0f}")
    print(f"{'mlstore, first process: builds and writes it (ms)':52} {writing['first_ms']:11.1f} "
          f"{writing['open_and_first_ms']:11.1f} {raw_first / writing['first_ms']:8.1f}x {writing['rss_mb']:12.0f}")
    print(f"snapshot size: {snapshot.stat().st_size / 1e6:.1f} MB "
          f"(index {(work / 'store' / 'index.sqlite').stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
