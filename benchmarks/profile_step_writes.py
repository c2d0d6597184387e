"""Where a write goes: ``mlstore.run`` per step vs raw MLMD ``put_execution``, ``Store.batch`` vs ``put_lineage_subgraph``.

Appends ``--days`` days to a copy of a store built by ``bench_core.py`` (``--dir`` holds
``store/`` and ``raw.sqlite``; copy it first: this writes to it). Per day, five
``mlstore.run`` blocks as the README shows them (ExampleGen logs a data directory,
Transform a graph, Trainer ``log_model``, Evaluator ``log_evaluation`` with 20 metrics ×
10 slices, Gate a blessing), and the same five records with raw MLMD's
``put_execution`` (``bench_core.RawMLMD.log_day``; no bytes, no captured environment).
Then ``--days`` days of the same records as one ``Store.batch`` per day vs one raw
``put_lineage_subgraph`` (``bench_core``'s batch days: one tiny shared blob).

The two sides alternate day by day in one process, so both see the same machine load;
each figure is the median over the days of the wall-clock time (and of the thread's
CPU time: on a loaded machine, raw MLMD's wall time is mostly waiting for its file
syncs). ``--profile`` adds a cProfile split of the ``mlstore.run`` days (cumulative
time of the functions below; the profiler inflates Python code, not MLMD's C++).

    cp -r /tmp/b10k /tmp/b10k-w && python benchmarks/profile_step_writes.py --dir /tmp/b10k-w --days 60

Measured 2026-12-07, 10,000-day store (bench_core --days-per-batch 100), 40 days each way,
3 rounds alternating main / this branch on fresh copies, 2 shared cores at load 15-20
(wall figures swing by 2x between rounds; thread-CPU medians are the stable ones):

    CPU ms/day (ratio to raw)          main                 after
    mlstore.run vs 5 x put_execution   36-39 (3.4-3.8x)     30-35 (3.3-3.5x)
    Store.batch vs put_lineage_subgr.  7.6-11 (2.5-2.8x)    9.7-9.8 (2.5-2.6x)
    first mlstore.run day (wall)       1.2-2.0 s            0.23-1.3 s
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import RawMLMD, day_metrics, log_day_mlstore_batch  # noqa: E402

import mlstore  # noqa: E402

#: (label, file suffix, function): the parts of a step, by the function that does each.
PARTS = [
    ("mlstore.run enter + exit (capture, write)", "mlstore/sdk.py", "run"),
    ("  capture (git, environment, packages)", "mlstore/capture.py", "capture_properties"),
    ("  blob publish (log_artifact / log_model / log_evaluation)", "mlstore/sdk.py", "_log_output"),
    ("  log_evaluation (metrics.json + publish)", "mlstore/sdk.py", "log_evaluation"),
    ("  Store.log_executions (checks, journal, MLMD, index)", "mlstore/store.py", "log_executions"),
    ("    queries.execute_many (journal + index rows)", "mlstore/index/queries.py", "execute_many"),
    ("    MLMD records built (subgraph_messages)", "mlstore/_records.py", "subgraph_messages"),
    ("    MLMD put_lineage_subgraph", "ml_metadata/metadata_store/metadata_store.py", "put_lineage_subgraph"),
    ("    MLMD get_executions_by_id (read back)", "ml_metadata/metadata_store/metadata_store.py",
     "get_executions_by_id"),
    ("    MLMD get_artifacts_by_id (read back)", "ml_metadata/metadata_store/metadata_store.py",
     "get_artifacts_by_id"),
    ("    index write (IndexSync.index_rows)", "mlstore/index/sync.py", "index_rows"),
    ("  re-read each output (Store.artifact)", "mlstore/store.py", "artifact"),
    ("raw MLMD, 5 x put_execution", "ml_metadata/metadata_store/metadata_store.py", "put_execution"),
]


def log_day_sdk(store, work: Path, day: int, base_model):
    def files(name: str, **content: str) -> Path:
        folder = work / f"{name}{day}"
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in content.items():
            (folder / file).write_text(text)
        return folder

    with mlstore.run("steps", "ExampleGen", {"day": day}, store=store) as r:
        r.log_artifact(files("data", **{"rows.csv": f"x,y\n{day},1\n"}), "Examples", properties={"span": day})
    examples = r.outputs[0]
    with mlstore.run("steps", "Transform", store=store) as r:
        r.use(examples, "examples")
        r.log_artifact(files("graph", **{"graph.pb": f"graph {day}"}), "TransformGraph")
    graph = r.outputs[0]
    with mlstore.run("steps", "Trainer", {"epochs": 1}, store=store, seed=7) as r:
        r.use(examples, "examples")
        r.use(graph, "transform_graph")
        if base_model is not None:
            r.use(base_model, "base_model")
        r.log_model(files("model", **{"saved_model.pb": f"model {day}"}))
    model = r.outputs[0]
    with mlstore.run("steps", "Evaluator", store=store) as r:
        r.use(model, "model")
        r.use(examples, "examples")
        r.log_evaluation(day_metrics(day))
    evaluation = r.outputs[0]
    with mlstore.run("steps", "Gate", store=store) as r:
        r.use(model, "model")
        r.use(evaluation, "evaluation")
        r.log_artifact(files("blessing", BLESSED=""), "ModelBlessing",
                       properties={"blessed": int(day % 3 != 0), "current_model_id": model.id})
    return model


class Clock:
    """Per-day wall and thread-CPU times of one side."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, fn, *args):
        w0, c0 = time.perf_counter(), time.thread_time()
        result = fn(*args)
        self.wall.append(time.perf_counter() - w0)
        self.cpu.append(time.thread_time() - c0)
        return result

    def median_ms(self, which: str) -> float:
        return statistics.median(getattr(self, which)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="A copy of a directory bench_core.py built.")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--profile", action="store_true", help="Also print a cProfile split of the mlstore.run days.")
    args = parser.parse_args()
    work = Path(args.dir)
    store = mlstore.open(str(work / "store"))
    raw = RawMLMD(work / "raw.sqlite")
    raw_prev = max(a.id for a in raw.store.get_artifacts_by_type("Model"))
    files = Path(tempfile.mkdtemp(prefix="steps-", dir=work))
    (work / "blob.txt").write_text("bench")
    blob = store.blobs.publish(work / "blob.txt")
    existing = len(store.artifacts(type="Model", pipeline="bench"))
    model = None
    sdk, put, batch, subgraph = Clock(), Clock(), Clock(), Clock()
    profile = cProfile.Profile() if args.profile else None
    first_ms = None
    for day in range(1, args.days + 1):
        if profile is not None:
            profile.enable()
        model = sdk.time(log_day_sdk, store, files, day, model)
        if profile is not None:
            profile.disable()
        first_ms = first_ms if first_ms is not None else sdk.wall[0] * 1000
        raw_prev = put.time(raw.log_day, day, raw_prev)
    prev = store.artifacts(type="Model", pipeline="bench")[-1].id if existing else None
    raw_batch_prev = raw_prev
    for day in range(existing + 1, existing + args.days + 1):
        prev = batch.time(log_day_mlstore_batch, store, blob, day, prev)
        raw_batch_prev = subgraph.time(raw.log_days_batch, range(day, day + 1), raw_batch_prev)

    print(f"\nper day (5 executions), {args.days} days each way appended to {work}, medians over days "
          f"(the sides alternate day by day)")
    print(f"{'':44} {'mlstore':>9} {'raw MLMD':>9} {'ratio':>7}   {'CPU mlstore':>11} {'CPU raw':>8} {'ratio':>6}")
    for label, ours, theirs in (("mlstore.run per step vs 5 x put_execution", sdk, put),
                                ("Store.batch vs put_lineage_subgraph", batch, subgraph)):
        print(f"{label:44} {ours.median_ms('wall'):9.1f} {theirs.median_ms('wall'):9.1f} "
              f"{ours.median_ms('wall') / theirs.median_ms('wall'):6.2f}x   {ours.median_ms('cpu'):11.1f} "
              f"{theirs.median_ms('cpu'):8.1f} {ours.median_ms('cpu') / theirs.median_ms('cpu'):5.2f}x")
    print(f"first mlstore.run day of the process (package list, type registration): {first_ms:.0f} ms")
    if profile is None:
        return
    stats = pstats.Stats(profile)
    print(f"\n{'mlstore.run days under cProfile (cumulative, ms per day)':58} {'ms':>8} {'calls/day':>10}")
    for label, suffix, function in PARTS[:-1]:
        found = [(v[1], v[3]) for (file, _, name), v in stats.stats.items()
                 if file.endswith(suffix) and name == function]
        calls, cumulative = (sum(x) for x in zip(*found)) if found else (0, 0.0)
        print(f"{label:58} {cumulative / args.days * 1000:8.2f} {calls / args.days:10.1f}")


if __name__ == "__main__":
    main()
