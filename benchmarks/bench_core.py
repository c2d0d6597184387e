"""Core benchmark: mlstore vs raw MLMD on the same simulated daily pipeline.

Per day: ExampleGen → Examples(span) → Transform → TransformGraph → Trainer (previous
day's Model as base_model) → Model → Evaluator → ModelEvaluation (20 metrics × 10
slices) → Gate → ModelBlessing (every third day not blessed). Both sides log the same
records to their own SQLite files in this process; artifact bytes are excluded (one
tiny blob is published once and shared).

Timed: logging per day, full upstream lineage of the newest model, the metric series
(one metric, one slice, every model), and the latest blessed model. Days alternate
between the two ways to log: odd days one call per step (``Store.log_execution`` vs
MLMD ``put_execution``), even days the whole day in one transaction (``Store.batch``
vs MLMD ``put_lineage_subgraph``); each is timed over its own days.

    python benchmarks/bench_core.py --days 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlstore  # noqa: E402
from mlstore.store import OutputArtifact  # noqa: E402

SLICES = ["Overall"] + [f"carrier={c}" for c in ("AA", "B6", "DL", "EV", "MQ", "UA", "US", "WN", "9E")]
METRICS = [f"m{i:02d}" for i in range(19)] + ["auc_roc"]


def day_metrics(day: int) -> dict[str, dict[str, float]]:
    return {s: {m: (day * 7 + i * 3 + j) % 1000 / 1000 for j, m in enumerate(METRICS)} for i, s in enumerate(SLICES)}


# --------------------------------------------------------------------------- mlstore


def log_day_mlstore(store, blob, day: int, prev_model: int | None) -> int:
    def out(type_, role, **props):
        return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)

    p = "bench"
    ex = store.log_execution("ExampleGen", p, outputs=[out("Examples", "examples", span=day)]).output_ids[0]
    tg = store.log_execution("Transform", p, inputs=[(ex, "examples")],
                             outputs=[out("TransformGraph", "transform_graph")]).output_ids[0]
    inputs = [(ex, "examples"), (tg, "transform_graph")] + ([(prev_model, "base_model")] if prev_model else [])
    model = store.log_execution("Trainer", p, inputs=inputs, outputs=[out("Model", "model")]).output_ids[0]
    ev = store.log_execution("Evaluator", p, inputs=[(model, "model"), (ex, "examples")],
                             outputs=[out("ModelEvaluation", "evaluation",
                                          metrics=json.dumps(day_metrics(day)))]).output_ids[0]
    store.log_execution("Gate", p, inputs=[(model, "model"), (ev, "evaluation")],
                        outputs=[out("ModelBlessing", "blessing", blessed=int(day % 3 != 0),
                                     current_model_id=model, evaluation_id=ev)])
    return model


def log_days_mlstore_batch(store, blob, days: range, prev_model: int | None) -> int:
    """The same days as :func:`log_day_mlstore`, written as one batch."""
    def out(type_, role, **props):
        return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)

    with store.batch("bench") as b:
        for day in days:
            ex = b.log_execution("ExampleGen", outputs=[out("Examples", "examples", span=day)]).outputs[0]
            tg = b.log_execution("Transform", inputs=[(ex, "examples")],
                                 outputs=[out("TransformGraph", "transform_graph")]).outputs[0]
            inputs = [(ex, "examples"), (tg, "transform_graph")] + ([(prev_model, "base_model")] if prev_model else [])
            trainer = b.log_execution("Trainer", inputs=inputs, outputs=[out("Model", "model")])
            model = prev_model = trainer.outputs[0]
            ev = b.log_execution("Evaluator", inputs=[(model, "model"), (ex, "examples")],
                                 outputs=[out("ModelEvaluation", "evaluation", metrics=json.dumps(day_metrics(day)))])
            # current_model_id needs the model's id, known only after the write: the blessing
            # points at it through its lineage instead (as TFX's does).
            b.log_execution("Gate", inputs=[(model, "model"), (ev.outputs[0], "evaluation")],
                            outputs=[out("ModelBlessing", "blessing", blessed=int(day % 3 != 0))])
    return trainer.output_ids[0]


def log_day_mlstore_batch(store, blob, day: int, prev_model: int | None) -> int:
    """One day as one batch."""
    return log_days_mlstore_batch(store, blob, range(day, day + 1), prev_model)


# --------------------------------------------------------------------------- raw MLMD


class RawMLMD:
    """The same workload written and queried with the plain MLMD API."""

    def __init__(self, path: Path):
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self.types = {}
        for name, props in {
            "Examples": {"span": pb.INT}, "TransformGraph": {}, "Model": {},
            "ModelEvaluation": {"metrics": pb.STRING},
            "ModelBlessing": {"blessed": pb.INT, "current_model_id": pb.INT},
        }.items():
            t = pb.ArtifactType(name=name)
            for k, v in props.items():
                t.properties[k] = v
            self.types[name] = self.store.put_artifact_type(t)
        for name in ("ExampleGen", "Transform", "Trainer", "Evaluator", "Gate"):
            self.types[name] = self.store.put_execution_type(pb.ExecutionType(name=name))
        self.ctx_type = self.store.put_context_type(pb.ContextType(name="pipeline"))

    def _artifact(self, type_name: str, props: dict) -> pb.Artifact:
        art = pb.Artifact(type_id=self.types[type_name], uri="/blob", state=pb.Artifact.LIVE)
        for k, v in props.items():
            if isinstance(v, int):
                art.properties[k].int_value = v
            else:
                art.properties[k].string_value = v
        return art

    @staticmethod
    def _event(event_type: int, role: str, artifact_id: int | None = None) -> pb.Event:
        ev = pb.Event(type=event_type, artifact_id=artifact_id)
        ev.path.steps.add().key = role
        return ev

    def _put(self, step, inputs, out_type, role, **props):
        execution = pb.Execution(type_id=self.types[step], last_known_state=pb.Execution.COMPLETE)
        pairs = [(None, self._event(pb.Event.INPUT, in_role, artifact_id)) for artifact_id, in_role in inputs]
        pairs.append((self._artifact(out_type, props), self._event(pb.Event.OUTPUT, role)))
        ctx = pb.Context(type_id=self.ctx_type, name="bench")
        _, ids, _ = self.store.put_execution(execution, pairs, [ctx], reuse_context_if_already_exist=True)
        return ids[-1]

    def log_day(self, day: int, prev_model: int | None) -> int:
        ex = self._put("ExampleGen", [], "Examples", "examples", span=day)
        tg = self._put("Transform", [(ex, "examples")], "TransformGraph", "transform_graph")
        inputs = [(ex, "examples"), (tg, "transform_graph")] + ([(prev_model, "base_model")] if prev_model else [])
        model = self._put("Trainer", inputs, "Model", "model")
        ev = self._put("Evaluator", [(model, "model"), (ex, "examples")], "ModelEvaluation", "evaluation",
                       metrics=json.dumps(day_metrics(day)))
        self._put("Gate", [(model, "model"), (ev, "evaluation")], "ModelBlessing", "blessing",
                  blessed=int(day % 3 != 0), current_model_id=model)
        return model

    def log_days_batch(self, days: range, prev_model: int | None) -> int:
        """The same days in one ``put_lineage_subgraph`` transaction."""
        executions, artifacts, edges = [], [], []
        prev_index = None  # the previous day's Model in this call (artifact index)
        for day in days:
            base = len(executions)
            steps = [("ExampleGen", "Examples", "examples", {"span": day}),
                     ("Transform", "TransformGraph", "transform_graph", {}),
                     ("Trainer", "Model", "model", {}),
                     ("Evaluator", "ModelEvaluation", "evaluation", {"metrics": json.dumps(day_metrics(day))}),
                     ("Gate", "ModelBlessing", "blessing", {"blessed": int(day % 3 != 0)})]
            for index, (step, out_type, role, props) in enumerate(steps):
                executions.append(pb.Execution(type_id=self.types[step], last_known_state=pb.Execution.COMPLETE))
                artifacts.append(self._artifact(out_type, props))
                edges.append((base + index, base + index, self._event(pb.Event.OUTPUT, role)))
            # inputs by (execution, artifact, role), both indices within the day
            inputs = [(1, 0, "examples"), (2, 0, "examples"), (2, 1, "transform_graph"), (3, 2, "model"),
                      (3, 0, "examples"), (4, 2, "model"), (4, 3, "evaluation")]
            edges += [(base + e, base + a, self._event(pb.Event.INPUT, role)) for e, a, role in inputs]
            if prev_index is not None:
                edges.append((base + 2, prev_index, self._event(pb.Event.INPUT, "base_model")))
            elif prev_model:
                edges.append((base + 2, None, self._event(pb.Event.INPUT, "base_model", prev_model)))
            prev_index = base + 2
        ctx = pb.Context(type_id=self.ctx_type, name="bench")
        _, ids, _ = self.store.put_lineage_subgraph(executions, artifacts, [ctx], edges,
                                                    reuse_context_if_already_exist=True)
        return ids[prev_index]

    def full_lineage(self, model_id: int) -> int:
        """Upstream lineage by repeated get_lineage_subgraph calls (each capped at 100 hops)."""
        seen_artifacts: set[int] = set()
        seen_executions: set[int] = set()
        frontier = {model_id}
        expanded: set[int] = set()
        while frontier:
            expanded |= frontier
            options = pb.LineageSubgraphQueryOptions(
                starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(
                    filter_query="id IN (" + ",".join(map(str, sorted(frontier))) + ")"),
                max_num_hops=100,
                direction=pb.LineageSubgraphQueryOptions.UPSTREAM,
            )
            graph = self.store.get_lineage_subgraph(options)
            seen_artifacts |= {a.id for a in graph.artifacts}
            seen_executions |= {e.id for e in graph.executions}
            produced = {e.artifact_id for e in graph.events if e.type == pb.Event.OUTPUT}
            frontier = {a.id for a in graph.artifacts if a.id not in produced} - expanded
        return len(seen_artifacts) + len(seen_executions)

    def bounded_lineage(self, model_id: int, hops: int) -> int:
        """Upstream lineage within ``hops`` hops: one get_lineage_subgraph call."""
        options = pb.LineageSubgraphQueryOptions(
            starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {model_id}"),
            max_num_hops=hops, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
        graph = self.store.get_lineage_subgraph(options)
        return len(graph.artifacts) + len(graph.executions)

    def metric_series(self, metric: str, slice_key: str) -> list[float]:
        evaluations = self.store.get_artifacts_by_type("ModelEvaluation")
        return [json.loads(a.properties["metrics"].string_value)[slice_key][metric] for a in evaluations]

    def latest_blessed(self) -> int:
        options = metadata_store.ListOptions(
            filter_query="type = 'ModelBlessing' AND properties.blessed.int_value = 1",
            order_by=metadata_store.OrderByField.CREATE_TIME, is_asc=False, limit=1)
        blessing = self.store.get_artifacts(list_options=options)[0]
        if "current_model_id" in blessing.properties:
            return blessing.properties["current_model_id"].int_value
        # a blessing logged in one transaction with its model names it by lineage only
        gate = self.store.get_events_by_artifact_ids([blessing.id])[0].execution_id
        return next(e.artifact_id for e in self.store.get_events_by_execution_ids([gate])
                    if e.type == pb.Event.INPUT and e.path.steps[0].key == "model")


# --------------------------------------------------------------------------- timing


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bounded_walk_scaling(store, raw, prev: int, raw_prev: int, repeat: int, days: int) -> None:
    """Only the depth-5 lineage, many times: its median and fastest repetition (the
    figure to compare across store sizes: a bounded walk should not grow with history)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        shallow = store.lineage(f"artifact:{prev}", "up", depth=5)
        times.append(time.perf_counter() - t0)
    raw_time, raw_count = timed(lambda: raw.bounded_lineage(raw_prev, 5), max(1, repeat // 10))
    assert shallow.node_count == raw_count, "depth-5 lineages differ"
    print(f"\nupstream lineage, depth 5 [{shallow.node_count} nodes], {days} days, {repeat} reps: "
          f"median {statistics.median(times) * 1000:.3f} ms, fastest {min(times) * 1000:.3f} ms; "
          f"raw MLMD get_lineage_subgraph {raw_time * 1000:.2f} ms")


def metric_queries(store, raw, repeat: int, days: int) -> None:
    """Only the metric queries (the series, the dashboard's name lists, one evaluation's
    metrics, the warm start's best model, the latest blessed model), each ``repeat`` times:
    median and fastest repetition, with raw MLMD's series in the same process as the yardstick."""
    newest_evaluation = store.artifacts(type="ModelEvaluation", pipeline="bench")[-1].id
    queries = [
        ("metric series, one slice", lambda: store.metric_series("bench", "auc_roc", "carrier=AA")),
        ("metric names (dashboard)", lambda: store.metric_names("bench")),
        ("slices of a metric (dashboard)", lambda: store.slices("bench", "auc_roc")),
        ("every slice (dashboard)", lambda: store.slices("bench")),
        ("one evaluation's metrics", lambda: store.evaluation_metrics(newest_evaluation)),
        ("warm start best:auc_roc@carrier=AA", lambda: store.select_warm_start("bench", "best:auc_roc@carrier=AA")),
        ("latest blessed model", lambda: store.latest_blessed("bench")),
    ]
    raw_times = []
    for _ in range(max(2, repeat // 10)):
        t0 = time.perf_counter()
        raw.metric_series("auc_roc", "carrier=AA")
        raw_times.append(time.perf_counter() - t0)
    raw_series = statistics.median(raw_times)
    print(f"\nmetric queries, {days} days, {repeat} reps; raw MLMD metric series {raw_series * 1000:.1f} ms (median)")
    print(f"{'query':40} {'median ms':>10} {'fastest ms':>10} {'raw series/median':>18}")
    for name, fn in queries:
        fn()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        print(f"{name:40} {median * 1000:10.3f} {min(times) * 1000:10.3f} {raw_series / median:17.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="Working directory (default: a temp dir).")
    parser.add_argument("--reuse", action="store_true",
                        help="Query the stores already in --dir instead of logging (no logging figure).")
    parser.add_argument("--days-per-batch", type=int, default=1,
                        help="Build the stores fast, this many days per transaction on both sides (the "
                             "same records; no logging figures). For 100,000-day query figures.")
    parser.add_argument("--metric-queries", action="store_true",
                        help="Time only the metric queries (median and fastest of 10 x --repeat).")
    parser.add_argument("--bounded-only", action="store_true",
                        help="Time only the depth-5 lineage (median and fastest of 20 x --repeat).")
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="mlstore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "blob.txt").write_text("bench")

    if args.reuse:
        from mlstore._uri import parse_store_uri  # noqa: PLC0415
        from mlstore.index import migrate  # noqa: PLC0415
        from mlstore.index.sync import index_engine  # noqa: PLC0415

        migrate.upgrade(index_engine(parse_store_uri(str(work / "store"))))
    store = mlstore.open(str(work / "store"))
    blob = store.blobs.publish(work / "blob.txt")
    raw = RawMLMD(work / "raw.sqlite")

    prev = raw_prev = None
    t_ours, t_raw = [0.0, 0.0], [0.0, 0.0]  # [one call per step, one batch per day]
    if args.reuse:
        prev = store.artifacts(type="Model", pipeline="bench")[-1].id
        raw_prev = max(a.id for a in raw.store.get_artifacts_by_type("Model"))
        args.days = len(store.artifacts(type="Model", pipeline="bench"))
    if args.days_per_batch > 1 and not args.reuse:  # a big store, fast; no logging figures
        for first in range(1, args.days + 1, args.days_per_batch):
            days = range(first, min(first + args.days_per_batch, args.days + 1))
            prev = log_days_mlstore_batch(store, blob, days, prev)
            raw_prev = raw.log_days_batch(days, raw_prev)
            if days[-1] % 10000 == 0:
                print(f"  logged {days[-1]} days", file=sys.stderr)
    for day in range(1, 0 if args.reuse or args.days_per_batch > 1 else args.days + 1):
        batched = day % 2 == 0
        t0 = time.perf_counter()
        if batched:
            prev = log_day_mlstore_batch(store, blob, day, prev)
        else:
            prev = log_day_mlstore(store, blob, day, prev)
        t1 = time.perf_counter()
        raw_prev = raw.log_days_batch(range(day, day + 1), raw_prev) if batched else raw.log_day(day, raw_prev)
        t2 = time.perf_counter()
        t_ours[batched] += t1 - t0
        t_raw[batched] += t2 - t1
        if day % 1000 == 0:
            print(f"  logged {day} days", file=sys.stderr)

    odd, even = (args.days + 1) // 2, args.days // 2
    rows = [] if args.reuse or args.days_per_batch > 1 else [
        ("logging per day, one call per step (ms)", t_ours[0] / odd, t_raw[0] / odd),
        ("logging per day, one batch per day (ms)", t_ours[1] / even, t_raw[1] / even),
    ]
    if args.metric_queries:
        metric_queries(store, raw, args.repeat * 10, args.days)
        return
    store.lineage(f"artifact:{prev}", "up")  # load the adjacency cache (a server does this once)
    if args.bounded_only:
        bounded_walk_scaling(store, raw, prev, raw_prev, args.repeat * 20, args.days)
        return
    lin_ours, graph = timed(lambda: store.lineage(f"artifact:{prev}", "up"), args.repeat)
    lin_raw, raw_count = timed(lambda: raw.full_lineage(raw_prev), max(1, args.repeat // 2))
    rows.append((f"full upstream lineage (ms) [{graph.node_count} vs {raw_count} nodes]", lin_ours, lin_raw))
    d5_ours, shallow = timed(lambda: store.lineage(f"artifact:{prev}", "up", depth=5), args.repeat * 4)
    d5_raw, raw_shallow = timed(lambda: raw.bounded_lineage(raw_prev, 5), args.repeat)
    assert shallow.node_count == raw_shallow, "depth-5 lineages differ"
    rows.append((f"upstream lineage, depth 5 (ms) [{shallow.node_count} nodes]", d5_ours, d5_raw))
    json_ours, _ = timed(lambda: store.lineage(f"artifact:{prev}", "up").to_json(), args.repeat)
    rows.append(("  ... plus every node and edge as JSON-ready dicts (ms)", json_ours, lin_raw))
    from mlstore.lineage import lineage_from_sql  # noqa: PLC0415

    sql_ours, _ = timed(lambda: lineage_from_sql(store.engine, [graph.start[0]], "up"), 1)
    rows.append(("  ... same graph by recursive SQL instead of the cache (ms)", sql_ours, lin_raw))
    ser_ours, series = timed(lambda: store.metric_series("bench", "auc_roc", "carrier=AA"), args.repeat)
    ser_raw, raw_series = timed(lambda: raw.metric_series("auc_roc", "carrier=AA"), args.repeat)
    assert [p.value for p in series] == raw_series, "metric series differ"
    rows.append((f"metric series (ms) [{len(series)} points]", ser_ours, ser_raw))
    lb_ours, blessed = timed(lambda: store.latest_blessed("bench"), args.repeat * 4)
    lb_raw, raw_blessed = timed(raw.latest_blessed, args.repeat)
    rows.append(("latest blessed model (ms)", lb_ours, lb_raw))

    print(f"\nmlstore vs raw MLMD, {args.days} days, SQLite, medians")
    print(f"{'measure':58} {'mlstore':>10} {'raw MLMD':>10} {'raw/mlstore':>12}")
    for name, ours, theirs in rows:
        print(f"{name:58} {ours * 1000:10.2f} {theirs * 1000:10.2f} {theirs / ours:11.1f}x")


if __name__ == "__main__":
    main()
