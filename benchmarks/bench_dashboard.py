"""Dashboard page render times (streamlit AppTest run time per page) at N daily runs.

The store (N days of ExampleGen → Transform → Trainer → Evaluator → Gate with per-slice
metrics, gate decisions, warm-start chains and module consumers, recorded with
``Store.log_execution`` over shared blobs by ``tests/dashboard_store.build_store_fast``)
is generated once and cached under ``~/.cache/mlstore-bench/dashboard-fast-<N>d``.

    python benchmarks/bench_dashboard.py                 # 10,000 days
    python benchmarks/bench_dashboard.py --days 300      # quick run

Each page is rendered ``--repeat`` times in a fresh AppTest: cold (st.cache_data emptied
first, so every store query runs) then warm (later runs hit the cache). One untimed run
first pays the process's one-off Streamlit start-up (imports, component scan), which a
real server pays once at launch, not per page. Cold is what a user opening a page after
new runs landed waits for; warm what later visits cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
PAGES = ["views/models.py", "views/model.py", "views/lineage.py", "views/runs.py",
         "views/modules.py", "views/gates.py"]


def ensure_store(days: int, cache: Path) -> Path:
    """The cached store of ``days`` daily runs, built when missing (marker: complete.json)."""
    target = cache / f"dashboard-fast-{days}d"
    if (target / "complete.json").is_file():
        return target
    from dashboard_store import build_store_fast  # noqa: PLC0415

    if target.exists():
        import shutil  # noqa: PLC0415

        shutil.rmtree(target)  # a half-built store from an interrupted run
    started = time.time()
    print(f"building {days} daily runs into {target} (once) ...", flush=True)
    result = build_store_fast(str(target), days=days)
    (target / "complete.json").write_text(json.dumps(
        {"days": days, "models": len(result.model_ids), "seconds": round(time.time() - started, 1)}))
    return target


def _run(page: str, query: dict) -> float:
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.query_params.update(query)
    at.switch_page(page)
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"{page} raised: {at.exception[0].value}")
    return elapsed


def time_page(page: str, query: dict, repeat: int) -> list[float]:
    """Run times of ``page``: the first with st.cache_data emptied (cold), then ``repeat - 1`` warm."""
    import streamlit as st  # noqa: PLC0415

    st.cache_data.clear()
    return [_run(page, query) for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mlstore-bench")
    args = parser.parse_args()
    store_dir = ensure_store(args.days, args.cache)
    os.environ["MLSTORE_URI"] = str(store_dir)
    import mlstore  # noqa: PLC0415

    with mlstore.open(str(store_dir)) as store:
        models = store.artifacts(type="Model")
        executions = store.newest_execution_id()
    model = models[len(models) // 2].id
    print(f"store {store_dir}: {len(models)} models, {executions} executions; model page on artifact:{model}")
    started = time.perf_counter()
    _run(PAGES[-1], {})
    from mlstore._dashboard import data  # noqa: PLC0415

    data.warm_up(str(store_dir), data.store()).join()  # the dashboard's start-up lineage warm-up, not a page cost
    print(f"start-up (first run, lineage warm-up): {time.perf_counter() - started:.2f} s")
    print(f"{'page':<20}{'cold s':>10}{'warm s (median)':>18}")
    for page in PAGES:
        times = time_page(page, {"model": str(model), "node": f"artifact:{model}"}, args.repeat)
        warm = statistics.median(times[1:]) if len(times) > 1 else float("nan")
        print(f"{page:<20}{times[0]:>10.3f}{warm:>18.3f}", flush=True)


if __name__ == "__main__":
    main()
