"""Where a per-step write goes: ``mlstore.run`` per step vs raw MLMD ``put_execution``.

Appends ``--days`` days to a copy of a store built by ``bench_core.py`` (``--dir`` holds
``store/`` and ``raw.sqlite``; copy it first: this writes to it). Per day, five
``mlstore.run`` blocks as the README shows them (ExampleGen logs a data directory,
Transform a graph, Trainer ``log_model``, Evaluator ``log_evaluation`` with 20 metrics ×
10 slices, Gate a blessing), and the same five records with raw MLMD's
``put_execution`` (``bench_core.RawMLMD.log_day``; no bytes, no captured environment).
Both run under one cProfile; the split is the cumulative time of the functions below,
per day.

    cp -r /tmp/b10k /tmp/b10k-w && python benchmarks/profile_step_writes.py --dir /tmp/b10k-w --days 100
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import RawMLMD, day_metrics  # noqa: E402

import mlstore  # noqa: E402

#: (label, file suffix, function): the parts of a step, by the function that does each.
PARTS = [
    ("mlstore.run enter + exit (capture, write, re-read)", "mlstore/sdk.py", "run"),
    ("  capture (git, environment, packages)", "mlstore/capture.py", "capture_properties"),
    ("  blob publish (log_artifact / log_model)", "mlstore/blobs.py", "publish"),
    ("  log_evaluation (temporary dir + publish)", "mlstore/sdk.py", "log_evaluation"),
    ("  Store.log_executions (checks, journal, MLMD, index)", "mlstore/store.py", "log_executions"),
    ("    queries.execute_many (journal + index rows)", "mlstore/index/queries.py", "execute_many"),
    ("    MLMD records built (subgraph_messages)", "mlstore/_records.py", "subgraph_messages"),
    ("    MLMD put_lineage_subgraph", "ml_metadata/metadata_store/metadata_store.py", "put_lineage_subgraph"),
    ("    MLMD get_executions_by_id (read back)", "ml_metadata/metadata_store/metadata_store.py",
     "get_executions_by_id"),
    ("    index write (IndexSync.index)", "mlstore/index/sync.py", "index"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="A copy of a directory bench_core.py built.")
    parser.add_argument("--days", type=int, default=100)
    args = parser.parse_args()
    work = Path(args.dir)
    store = mlstore.open(str(work / "store"))
    raw = RawMLMD(work / "raw.sqlite")
    raw_prev = max(a.id for a in raw.store.get_artifacts_by_type("Model"))
    files = Path(tempfile.mkdtemp(prefix="steps-", dir=work))
    model, ours, theirs = None, 0.0, 0.0
    profile = cProfile.Profile()
    for day in range(1, args.days + 1):
        t0 = time.perf_counter()
        profile.enable()
        model = log_day_sdk(store, files, day, model)
        t1 = time.perf_counter()
        raw_prev = raw.log_day(day, raw_prev)
        profile.disable()
        t2 = time.perf_counter()
        ours, theirs = ours + t1 - t0, theirs + t2 - t1
    stats = pstats.Stats(profile)
    print(f"\nper day (5 steps), {args.days} days appended to {work}; wall clock (under the profiler): "
          f"mlstore.run {ours / args.days * 1000:.1f} ms, raw put_execution {theirs / args.days * 1000:.1f} ms "
          f"({ours / theirs:.2f}x)")
    print(f"{'part (cProfile cumulative, ms per day)':58} {'ms':>8} {'calls/day':>10}")
    for label, suffix, function in PARTS:
        found = [(v[1], v[3]) for (file, _, name), v in stats.stats.items()
                 if file.endswith(suffix) and name == function]
        calls, cumulative = (sum(x) for x in zip(*found)) if found else (0, 0.0)
        print(f"{label:58} {cumulative / args.days * 1000:8.2f} {calls / args.days:10.1f}")


if __name__ == "__main__":
    main()
