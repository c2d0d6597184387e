"""Generates a platform-scale store: P pipelines x D days of the demo's daily shape, any backend.

    .venv/bin/python benchmarks/gen_scale_store.py --store postgresql://postgres@127.0.0.1:5432/scale \
        --pipelines 100 --days 300 --workers 3

Per pipeline and day (pipeline ``scale-NNN``, span = day number):

    CsvExampleGen ─► Examples ─► Transform ─► TransformGraph
      └────────────────────────► Trainer (+ base_model: the latest blessed Model) ─► Model
    Evaluator (model, examples, baseline_model) ─► ModelEvaluation (20 metrics x 10 slices)
    Gate (model, evaluation, baseline_model) ─► ModelBlessing (every 4th day not blessed)
    Pusher (model, model_blessing) ─► PushedModel

Records are TFX-shaped, copied from the real-TFX fixture as ``gen_tfx_store.py`` does:
TFX's artifact, execution and context types (class-path execution types, their exec
properties as custom properties), ``[key, 0]`` event paths, TFX's custom properties on
artifacts (``tfx_version``, ``span``, ``blessed``, ``baseline_model_id``, pushed
fields), a ``pipeline`` context and one ``pipeline_run`` context per day. Two
departures, both because one MLMD transaction writes a whole day: the ModelEvaluation
carries its metrics as a ``metrics`` custom property (TFX keeps them in TFMA files; no
bytes are written here), and a blessing names its model by lineage (the Gate's
``model`` input) instead of ``current_model_id`` (unknown until the day is written;
the index reads either). The Gate is mlstore's step (TFX's Evaluator blesses).

Written through MLMD's own API: one ``put_lineage_subgraph`` per pipeline-day (all its
executions, artifacts, events and context links in one transaction), by ``--workers``
processes (one on SQLite), each owning every W-th pipeline and advancing all of them chunk by chunk
(``--chunk-days``), so a stopped build has pipelines of about equal length. After each
chunk the worker indexes what it wrote with mlstore's own indexer (the code
``Store.log_executions`` runs after its ``put_lineage_subgraph``).

Resumable: run the same command again (or with a larger ``--days``). Per pipeline the
last day in MLMD is found from its ``pipeline_run`` contexts, days in MLMD but not in
the index are indexed from MLMD, and writing continues from the next day.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen_tfx_store import EXAMPLE_GEN, load_templates  # noqa: E402

from mlstore import errors  # noqa: E402
from mlstore._uri import parse_store_uri  # noqa: E402
from mlstore.index import tables as t  # noqa: E402
from mlstore.store import Store  # noqa: E402

SLICES = ["Overall"] + [f"carrier={c}" for c in ("AA", "B6", "DL", "EV", "MQ", "UA", "US", "WN", "9E")]
METRICS = [f"m{i:02d}" for i in range(19)] + ["auc_roc"]
START = datetime.datetime(2000, 1, 1, 6, 0, 0)
UNBLESSED_EVERY = 4
GATE = "Gate"

#: Node -> (TFX node of the fixture whose execution type and exec properties it copies, or None).
NODES = {"CsvExampleGen": "CsvExampleGen", "Transform": "Transform", "Trainer": "Trainer",
         "Evaluator": "Evaluator", "Gate": None, "Pusher": "Pusher"}


def pipeline_name(p: int) -> str:
    return f"scale-{p:03d}"


def blessed(day: int) -> bool:
    return day % UNBLESSED_EVERY != 0


def last_blessed_day(day: int) -> int:
    """The newest blessed day at or before ``day`` (0: none)."""
    while day > 0 and not blessed(day):
        day -= 1
    return day


def metric_value(p: int, day: int, slice_index: int, metric_index: int) -> float:
    """The deterministic metric value tests and benchmarks check against."""
    return ((p * 131 + day * 7 + slice_index * 3 + metric_index) % 1000) / 1000


def day_metrics(p: int, day: int) -> dict[str, dict[str, float]]:
    return {s: {m: metric_value(p, day, i, j) for j, m in enumerate(METRICS)} for i, s in enumerate(SLICES)}


def run_name(pipeline: str, day: int) -> str:
    return f"{pipeline}/{(START + datetime.timedelta(days=day - 1)).isoformat()}"


# --------------------------------------------------------------------------- records


@dataclass
class Shapes:
    """TFX's records of the fixture, by node and by artifact type, plus the type ids here."""

    exec_type: dict[str, int]  # node -> execution type id
    exec_props: dict[str, dict[str, pb.Value]]  # node -> custom properties
    artifact_type: dict[str, int]  # type name -> id
    artifact_template: dict[str, pb.Artifact]  # type name -> a fixture artifact of that type
    pipeline_type: int
    run_type: int


def register_shapes(store: Store) -> Shapes:
    """Registers TFX's types (idempotent: the same definitions return the stored ids)."""
    templates = load_templates()
    mlmd = store.metadata
    by_node = {et.node: et for et in templates.runs[2]}
    exec_types = {t.name: t for t in templates.execution_types}
    exec_type, exec_props = {}, {}
    for node, fixture_node in NODES.items():
        if fixture_node is None:
            exec_type[node], exec_props[node] = mlmd.execution_type_id(GATE), {}
            continue
        et = by_node[fixture_node]
        message = pb.ExecutionType()
        message.CopyFrom(exec_types[et.type_name])
        message.ClearField("id")
        exec_type[node] = mlmd.call(mlmd.raw.put_execution_type, message)
        exec_props[node] = {k: v for k, v in et.custom_properties.items()}
    artifact_template: dict[str, pb.Artifact] = {}
    for et in templates.runs[2]:
        for _, art in et.outputs:
            artifact_template.setdefault(templates.type_names[art.type_id], art)
    artifact_type = {name: mlmd.artifact_type_id(name) for name in
                     ("Examples", "TransformGraph", "Model", "ModelEvaluation", "ModelBlessing", "PushedModel")}
    return Shapes(exec_type, exec_props, artifact_type, artifact_template,
                  mlmd.context_type_id("pipeline"), mlmd.context_type_id("pipeline_run"))


def _event(kind: int, key: str) -> pb.Event:
    ev = pb.Event(type=kind)
    ev.path.steps.add().key = key
    ev.path.steps.add().index = 0
    return ev


class DayWriter:
    """Builds and writes one pipeline-day as one ``put_lineage_subgraph`` call."""

    def __init__(self, store: Store, shapes: Shapes, root: str):
        self.store, self.s, self.root = store, shapes, root

    def _artifact(self, type_name: str, uri: str, **custom) -> pb.Artifact:
        template = self.s.artifact_template[type_name]
        a = pb.Artifact(type_id=self.s.artifact_type[type_name], uri=uri, state=pb.Artifact.LIVE)
        a.properties.MergeFrom(template.properties)
        for k, v in template.custom_properties.items():
            if k not in ("baseline_model", "baseline_model_id", "current_model", "current_model_id",
                         "pushed_destination", "pushed_version", "blessed", "pushed"):
                a.custom_properties[k].CopyFrom(v)
        for k, v in custom.items():
            if isinstance(v, str):
                a.custom_properties[k].string_value = v
            else:
                a.custom_properties[k].int_value = int(v)
        return a

    def _execution(self, node: str, **custom) -> pb.Execution:
        e = pb.Execution(type_id=self.s.exec_type[node], last_known_state=pb.Execution.COMPLETE)
        for k, v in self.s.exec_props[node].items():
            e.custom_properties[k].CopyFrom(v)
        for k, v in custom.items():
            e.custom_properties[k].int_value = v
        return e

    def write(self, p: int, day: int, base: tuple[int, str] | None) -> tuple[list[int], list[int], tuple[int, str]]:
        """Writes day ``day`` of pipeline ``p``; ``base``: (id, uri) of the latest blessed Model.

        Returns (execution ids, artifact ids, (model id, model uri)).
        """
        pipeline = pipeline_name(p)
        uri = lambda node, key: f"{self.root}/{pipeline}/{node}/{key}/{day}"  # noqa: E731
        model_uri = uri("Trainer", "model")
        ok = blessed(day)
        blessing_props = {"blessed": int(ok), "current_model": model_uri}
        if base is not None:
            blessing_props.update(baseline_model_id=base[0], baseline_model=base[1])
        pushed_props = {"pushed": int(ok)}
        if ok:
            pushed_props.update(pushed_version=str(day), pushed_destination=f"{self.root}/serving/{pipeline}/{day}")
        artifacts = [
            self._artifact("Examples", uri("CsvExampleGen", "examples"), span=day),
            self._artifact("TransformGraph", uri("Transform", "transform_graph")),
            self._artifact("Model", model_uri),
            self._artifact("ModelEvaluation", uri("Evaluator", "evaluation"),
                           metrics=json.dumps(day_metrics(p, day), sort_keys=True)),
            self._artifact("ModelBlessing", uri("Gate", "blessing"), **blessing_props),
            self._artifact("PushedModel", uri("Pusher", "pushed_model"), **pushed_props),
        ]
        executions = [self._execution("CsvExampleGen", span=day), self._execution("Transform"),
                      self._execution("Trainer"), self._execution("Evaluator"), self._execution("Gate"),
                      self._execution("Pusher")]
        # (execution index, artifact index, event): every node writes the artifact of its index
        edges = [(i, i, _event(pb.Event.OUTPUT, key)) for i, key in enumerate(
            ("examples", "transform_graph", "model", "evaluation", "blessing", "pushed_model"))]
        edges += [(e, a, _event(pb.Event.INPUT, key)) for e, a, key in (
            (1, 0, "examples"), (2, 0, "examples"), (2, 1, "transform_graph"), (3, 2, "model"),
            (3, 0, "examples"), (4, 2, "model"), (4, 3, "evaluation"), (5, 2, "model"), (5, 4, "model_blessing"))]
        if base is not None:
            for e, key in ((2, "base_model"), (3, "baseline_model"), (4, "baseline_model")):
                ev = _event(pb.Event.INPUT, key)
                ev.artifact_id = base[0]
                edges.append((e, None, ev))
        contexts = [pb.Context(type_id=self.s.pipeline_type, name=pipeline),
                    pb.Context(type_id=self.s.run_type, name=run_name(pipeline, day))]
        mlmd = self.store.metadata
        mlmd.encode_strings(*executions, *artifacts)
        execution_ids, artifact_ids, _ = mlmd.call(mlmd.raw.put_lineage_subgraph, executions, artifacts, contexts,
                                                   edges, reuse_context_if_already_exist=True)
        return list(execution_ids), list(artifact_ids), (artifact_ids[2], model_uri)


# --------------------------------------------------------------------------- progress


def mlmd_last_day(store: Store, pipeline: str, days: int, run_type: int) -> int:
    """The last day of ``pipeline`` in MLMD (days are written in order): binary search on run contexts."""
    mlmd = store.metadata

    def written(day: int) -> bool:
        return mlmd.call(mlmd.raw.get_context_by_type_and_name, "pipeline_run", run_name(pipeline, day)) is not None

    low, high = 0, days  # written(low) holds (day 0: nothing), find the largest written day <= high
    if written(high):
        # continue past `days` too (a rerun with a smaller --days must not rewrite)
        while written(high):
            low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if written(mid):
            low = mid
        else:
            high = mid
    return low


def index_last_day(store: Store) -> dict[str, int]:
    """Per pipeline, the newest Examples span in the index."""
    a = t.artifact.c
    with store.engine.connect() as connection:
        return dict(connection.execute(select(a.pipeline, func.max(a.span)).where(a.type == "Examples")
                                       .group_by(a.pipeline)).all())


def model_of_day(store: Store, pipeline: str, day: int) -> tuple[int, str]:
    a = t.artifact.c
    with store.engine.connect() as connection:
        row = connection.execute(select(a.id, a.uri).where(a.type == "Model", a.pipeline == pipeline,
                                                           a.span == day)).one()
    return row.id, row.uri


def index_written(store: Store, execution_ids: list[int], artifact_ids: list[int]) -> None:
    """Indexes executions this worker wrote, with mlstore's own indexer (no bytes to fingerprint)."""
    mlmd = store.metadata
    for i in range(0, len(execution_ids), 500):
        ids = execution_ids[i:i + 500]
        executions = mlmd.call(mlmd.raw.get_executions_by_id, ids)
        events = mlmd.call(mlmd.raw.get_events_by_execution_ids, ids)
        produced = {ev.artifact_id for ev in events if ev.type == pb.Event.OUTPUT}
        store._sync.index(executions, new_artifact_ids=[a for a in artifact_ids if a in produced], events=events,
                          fingerprint=lambda _external: None)


def index_from_mlmd(store: Store, pipeline: str, first: int, last: int) -> None:
    """Indexes days ``first..last`` of ``pipeline`` that MLMD has and the index lacks (a stopped build)."""
    mlmd = store.metadata
    ids = []
    for day in range(first, last + 1):
        ctx = mlmd.call(mlmd.raw.get_context_by_type_and_name, "pipeline_run", run_name(pipeline, day))
        ids += [e.id for e in mlmd.call(mlmd.raw.get_executions_by_context, ctx.id)]
    for i in range(0, len(ids), 500):
        executions = mlmd.call(mlmd.raw.get_executions_by_id, ids[i:i + 500])
        store._sync.index(executions, fingerprint=lambda _external: None)


def open_store(uri: str) -> Store:
    """The store without the catch-up at open (its follow would read every raw write)."""
    return Store(parse_store_uri(uri), catch_up=False)


# --------------------------------------------------------------------------- workers


def work(uri: str, pipelines: list[int], days: int, chunk_days: int, root: str, worker: int) -> dict:
    store = open_store(uri)
    shapes = register_shapes(store)
    writer = DayWriter(store, shapes, root)
    indexed = index_last_day(store)
    done, base = {}, {}
    for p in pipelines:
        name = pipeline_name(p)
        done[p] = mlmd_last_day(store, name, days, shapes.run_type)
        have = indexed.get(name) or 0
        if have < done[p]:
            index_from_mlmd(store, name, have + 1, done[p])
        b = last_blessed_day(done[p])
        base[p] = model_of_day(store, name, b) if b else None
    started, written = time.perf_counter(), 0
    for chunk_end in range(chunk_days, days + chunk_days, chunk_days):
        chunk_end = min(chunk_end, days)
        for p in pipelines:
            execution_ids, artifact_ids = [], []
            for day in range(done[p] + 1, chunk_end + 1):
                e_ids, a_ids, model = writer.write(p, day, base[p])
                execution_ids += e_ids
                artifact_ids += a_ids
                if blessed(day):
                    base[p] = model
                done[p] = day
                written += 1
            if execution_ids:
                index_written(store, execution_ids, artifact_ids)
        rate = written / max(time.perf_counter() - started, 1e-9)
        print(f"  worker {worker}: {len(pipelines)} pipelines at day {chunk_end}, {written} days written, "
              f"{rate:.1f} days/s", file=sys.stderr, flush=True)
    store.close()
    return {"worker": worker, "days_written": written, "seconds": time.perf_counter() - started}


def _work(args) -> dict:
    return work(*args)


def finish(uri: str) -> dict:
    """Records the store's MLMD fingerprint and the sync position (so an open reads nothing again)."""
    store = open_store(uri)  # records the source when this is the first open after a write
    mlmd = store.metadata
    from ml_metadata.metadata_store import metadata_store  # noqa: PLC0415

    newest = mlmd.call(mlmd.raw.get_executions, list_options=metadata_store.ListOptions(
        limit=1, order_by=metadata_store.OrderByField.UPDATE_TIME, is_asc=False))
    if newest:
        store._sync._set_position(newest[0].last_update_time_since_epoch)
    with store.engine.connect() as connection:
        counts = {name: connection.scalar(select(func.count()).select_from(table)) for name, table in
                  (("executions", t.execution), ("artifacts", t.artifact), ("events", t.event))}
    store.close()
    return counts


def generate(uri: str, pipelines: int, days: int, workers: int = 2, chunk_days: int = 25,
             root: str = "/work/scale-stores/pipeline_root") -> dict:
    """Builds (or continues) the store; returns counts and seconds."""
    started = time.perf_counter()
    store = open_store(uri)  # one process creates the schemas
    if store.location.database is None and workers > 1:
        # MLMD on SQLite has one writer at a time anyway, and indexing TFX-shaped records reads
        # MLMD's file through a second SQLite library (mlstore/index/mlmd_tables.py), which
        # read "database disk image is malformed" (transiently; the file checked intact)
        # while other processes wrote it.
        print("  SQLite: one worker (MLMD on SQLite writes one transaction at a time)", file=sys.stderr)
        workers = 1
    store.close()
    jobs = [(uri, list(range(w, pipelines, workers)), days, chunk_days, root, w) for w in range(min(workers, pipelines))]
    if len(jobs) == 1:
        results = [_work(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_work, jobs)
    counts = finish(uri)
    return {"pipelines": pipelines, "days": days, **counts,
            "days_written": sum(r["days_written"] for r in results),
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="a store URI: a directory, mysql:// or postgresql://")
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-days", type=int, default=25, help="days per pipeline between index writes")
    parser.add_argument("--root", default="/work/scale-stores/pipeline_root", help="prefix of artifact uris")
    args = parser.parse_args(argv)
    if min(args.pipelines, args.days, args.workers, args.chunk_days) < 1 or args.pipelines > 999:
        parser.error("--pipelines (1..999), --days, --workers and --chunk-days must be >= 1")
    os.environ.setdefault("GLOG_minloglevel", "3")
    try:
        print(json.dumps(generate(args.store, args.pipelines, args.days, args.workers, args.chunk_days, args.root)))
    except errors.MlstoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
