"""The main job's time, and what resuming and caching save.

Runs ``mlstore demo --days N`` into a fresh store, then again (completed days are
skipped), then with ``--no-resume`` (every step is a cache hit, nothing trains), and
prints the three times and the ratios to the first run.

    python benchmarks/bench_demo.py --days 30
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def demo(store: Path, days: int, *extra: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlstore", "demo", "--days", str(days), "--store", str(store),
                           "--json", *extra], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    return time.perf_counter() - t0, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    store = Path(args.dir or tempfile.mkdtemp(prefix="mlstore-demo-bench-")) / "store"
    first, summary = demo(store, args.days)
    resumed, resumed_summary = demo(store, args.days)
    walked, walked_summary = demo(store, args.days, "--no-resume")
    print(f"flights demo, {args.days} days ({summary['blessed']} blessed), store {store}")
    print(f"{'run':44} {'seconds':>8} {'of first':>9}")
    print(f"{'first run (trains every day)':44} {first:8.1f} {1:9.1%}")
    print(f"{'second run (completed days skipped)':44} {resumed:8.1f} {resumed / first:9.1%}  "
          f"[{resumed_summary['days_skipped']} skipped]")
    print(f"{'--no-resume (every step a cache hit)':44} {walked:8.1f} {walked / first:9.1%}  "
          f"[{walked_summary['cached_steps']} cached steps]")


if __name__ == "__main__":
    main()
