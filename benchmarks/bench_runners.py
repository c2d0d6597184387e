"""Benchmark: the Evaluator and Transform analyze on DirectRunner vs DaskRunner vs PortableRunner.

Same machine, same run, same data: N synthetic flight-like rows (bench_evaluator's
generator, with a precomputed ``pred`` column: the evaluator's engine, not TensorFlow
inference, is what is measured) in ``--files`` Parquet files, written before timing.

Runners (each measured in a fresh driver process, so its peak RSS is the driver's own):

* ``direct``: DirectRunner in-process (``--direct_num_workers=1``) — the reference;
* ``direct-mp``: DirectRunner, 2 worker processes (``multi_processing``);
* ``dask``: DaskRunner on a dask.distributed scheduler + 2 single-thread worker processes;
* ``portable``: PortableRunner over the Beam Job API to Beam's Python job service, SDK
  workers from an external worker pool process (tests/beam_clusters.py starts both).

Each job runs ``--repeat`` times per runner (each time in a fresh driver process, on the
same cluster). The first run on a fresh cluster is *cold*: every Dask or SDK worker
process imports mlstore, Beam and pandas for the first time (tens of seconds on a loaded
2-core machine), which a long-lived cluster pays once; ``seconds`` is the median of the
later (warm) runs, ``cold s`` the first run.

Reported per job and runner: warm seconds, rows/s, warm time ratio against ``direct``,
the first run's seconds and ratio, the driver's peak RSS, and whether the results equal
``direct``'s (analyzers equal; every metric of every slice within 1e-9). A pandas
baseline (the same z-score, vocabulary and quantile statistics with pandas, in this
process) puts the analyze times in context; ``uptime``'s load is printed with the table.

Run: ``python benchmarks/bench_runners.py --rows 1000000`` (``--rows 50000`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SPEC = """
raw_columns:
  distance: {dtype: float}
  dep_delay: {dtype: float, default: 0}
  hour: {dtype: int}
  carrier: {dtype: string}
  origin: {dtype: string}
features:
  distance_z: {op: scale_to_z_score, input: distance}
  dep_delay_z: {op: scale_to_z_score, input: dep_delay}
  hour_bucket: {op: bucketize, input: hour, num_buckets: 6}
  carrier_id: {op: vocabulary, input: carrier}
  origin_id: {op: vocabulary, input: origin}
"""
RUNNERS = ("direct", "direct-mp", "dask", "portable")
JOBS = ("evaluator", "analyze")


def _child(job: str, options: list[str], data: list[str], out: str) -> dict:
    """Runs one job in this (fresh) process; returns timing, peak RSS and a result summary."""
    from bench_evaluator import SPECS  # noqa: PLC0415

    from mlstore.components.evaluator import EvalConfig, LabelSpec, evaluate  # noqa: PLC0415
    from mlstore.components.transform import analyze, parse_spec  # noqa: PLC0415

    t0 = time.perf_counter()
    if job == "evaluator":
        cfg = EvalConfig(LabelSpec.parse("arr_delay > 15"), SPECS, batch_size=50_000, prediction_column="pred")
        result = evaluate(None, data, out, cfg, options)
        summary = {s.slice_key: {k: v for k, v in s.metrics.items() if isinstance(v, (int, float))}
                   for s in result.slices}
    else:
        results = analyze(parse_spec(SPEC), data, pipeline_options=options, work_dir=out)
        summary = {name: repr(r) for name, r in sorted(results.features.items())}
        summary["__rows__"] = results.num_rows_analyzed
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "summary": summary}


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (reset by exec), not ru_maxrss, which a child started by
    fork+exec inherits from its parent (the benchmark process holding the generated rows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, dict):
            if x.keys() != y.keys() or any(abs((x[k] or 0) - (y[k] or 0)) > 1e-9 for k in x):
                return False
        elif x != y:
            return False
    return True


def _pandas_analyze(paths: list[str]) -> float:
    import pandas as pd  # noqa: PLC0415

    t0 = time.perf_counter()
    df = pd.concat([pd.read_parquet(p, columns=["distance", "dep_delay", "hour", "carrier", "origin"])
                    for p in paths])
    for col in ("distance", "dep_delay"):
        values = df[col].fillna(0) if col == "dep_delay" else df[col]
        values.mean(), values.var(ddof=0)
    df["hour"].quantile([i / 6 for i in range(1, 6)])
    df["carrier"].value_counts(), df["origin"].value_counts()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per job and runner (first = cold)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # JSON job spec (internal)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print("RESULT " + json.dumps(_child(spec["job"], spec["options"], spec["data"], spec["out"])))
        return

    import signal  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from bench_evaluator import make_data  # noqa: PLC0415

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` still stops the clusters

    from tests.beam_clusters import dask_cluster, portable_job_service  # noqa: PLC0415

    runners = args.runners.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-runners-") as tmp:
        df = make_data(args.rows)
        df["pred"] = 1 / (1 + np.exp(-(0.08 * df.dep_delay.astype(np.float64) - 1.0)))
        paths = []
        for n, part in enumerate(np.array_split(np.arange(len(df)), args.files)):
            paths.append(os.path.join(tmp, f"part{n}.parquet"))
            df.iloc[part].to_parquet(paths[-1], index=False)
        del df
        t_pandas = _pandas_analyze(paths)

        def measure(runner: str, options: list[str]) -> dict:
            runs: dict[str, list[dict]] = {job: [] for job in JOBS}
            for n in range(max(1, args.repeat)):
                for job in JOBS:
                    spec = {"job": job, "options": options, "data": paths,
                            "out": os.path.join(tmp, f"{runner}-{job}-{n}")}
                    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
                    if proc.returncode or line is None:
                        raise SystemExit(f"{runner} {job} failed:\n{proc.stderr[-3000:]}")
                    runs[job].append(json.loads(line[len("RESULT "):]))
                    print(f"  {runner:<9} {job:<9} run {n}: {runs[job][-1]['seconds']:.1f} s  ({_load()})",
                          file=sys.stderr, flush=True)
            out = {}
            for job, results in runs.items():
                warm = results[1:] or results
                out[job] = {**results[0], "cold": results[0]["seconds"],
                            "seconds": statistics.median(r["seconds"] for r in warm),
                            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                            "same_runs": all(_same(results[0]["summary"], r["summary"]) for r in results)}
            return out

        measured: dict[str, dict] = {}
        for runner in runners:
            if runner == "direct":
                measured[runner] = measure(runner, ["--runner=DirectRunner", "--direct_num_workers=1"])
            elif runner == "direct-mp":
                measured[runner] = measure(runner, ["--runner=DirectRunner", "--direct_num_workers=2",
                                                    "--direct_running_mode=multi_processing"])
            elif runner == "dask":
                with dask_cluster(workers=2) as options:
                    measured[runner] = measure(runner, options)
            elif runner == "portable":
                with portable_job_service() as options:
                    measured[runner] = measure(runner, options)

    print(f"rows={args.rows:,} files={args.files} cores={os.cpu_count()} repeat={args.repeat} ({_load()}) "
          f"(pandas analyze baseline in-process: {t_pandas:.2f} s, {args.rows / t_pandas:,.0f} rows/s)")
    print(f"{'job':<10}{'runner':<11}{'seconds':>9}{'rows/s':>12}{'x direct':>10}{'cold s':>8}{'x cold':>8}"
          f"{'driver MB':>11}  same as direct (and over runs)")
    for job in JOBS:
        reference = measured.get("direct", {}).get(job)
        for runner, jobs in measured.items():
            r = jobs[job]
            ratio = r["seconds"] / reference["seconds"] if reference else float("nan")
            cold = r["cold"] / reference["cold"] if reference else float("nan")
            same = (_same(reference["summary"], r["summary"]) and r["same_runs"]) if reference else "n/a"
            print(f"{job:<10}{runner:<11}{r['seconds']:>9.1f}{args.rows / r['seconds']:>12,.0f}{ratio:>10.2f}"
                  f"{r['cold']:>8.1f}{cold:>8.2f}{r['peak_rss_mb']:>11.0f}  {same}")


def _load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
