"""Data page render time (streamlit AppTest run time) over N days of validated statistics.

The store: N days of 2013's flights (at most 364: the data ends on 2013-12-30, each day
evaluating on the next), each run through the executor as ExampleGen ->
StatisticsGen (Beam DirectRunner) -> ExampleValidator (drift from the day before), the
schema inferred on the first day (``tests/data_validation_support.record_days``, what the
page's tests use). Built once and cached under ``~/.cache/mlstore-bench/data-page-<N>d``
(364 days take ~9 min here).

    python benchmarks/bench_data_page.py               # 364 days; target: warm < 1 s
    python benchmarks/bench_data_page.py --days 10     # quick run

Cold: every st.cache_data / st.cache_resource emptied (the store is opened again), so every statistics and anomalies
file is read again through ``Store.local_path`` (verified) and parsed; warm: later runs.
One untimed run first pays Streamlit's start-up, as in bench_dashboard.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGE = "views/data.py"
TARGET_WARM_S = 1.0


def ensure_store(days: int, cache: Path) -> Path:
    """The cached store of ``days`` validated days, built when missing (marker: complete.json)."""
    target = cache / f"data-page-{days}d"
    if (target / "complete.json").is_file():
        return target
    import shutil  # noqa: PLC0415

    from tests.data_validation_support import record_days  # noqa: PLC0415

    shutil.rmtree(target, ignore_errors=True)  # a half-built store from an interrupted run
    started = time.time()
    print(f"recording {days} days into {target} (once) ...", flush=True)
    first = dt.date(2013, 1, 1)
    spans = [(d.isoformat(), int(d.strftime("%Y%m%d"))) for d in (first + dt.timedelta(days=i) for i in range(days))]
    record_days(str(target), spans)
    (target / "complete.json").write_text(json.dumps({"days": days, "seconds": round(time.time() - started, 1)}))
    return target


def _run() -> float:
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.switch_page(PAGE)
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"{PAGE} raised: {at.exception[0].value}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mlstore-bench")
    args = parser.parse_args()
    store_dir = ensure_store(args.days, args.cache)
    os.environ["MLSTORE_URI"] = str(store_dir)
    import streamlit as st  # noqa: PLC0415

    _run()  # start-up
    st.cache_data.clear()
    st.cache_resource.clear()
    times = [_run() for _ in range(args.repeat)]
    warm = statistics.median(times[1:]) if len(times) > 1 else float("nan")
    verdict = "ok" if warm < TARGET_WARM_S else "OVER TARGET"
    print(f"Data page over {args.days} days: cold {times[0]:.3f} s, warm {warm:.3f} s (median of {len(times) - 1}); "
          f"target warm < {TARGET_WARM_S:g} s: {verdict}")


if __name__ == "__main__":
    main()
