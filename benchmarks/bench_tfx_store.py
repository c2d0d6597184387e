"""mlstore attached to a TFX-shaped store vs raw MLMD, in one process.

    .venv/bin/python benchmarks/gen_tfx_store.py --out /tmp/tfx10k --days 10000
    .venv/bin/python benchmarks/bench_tfx_store.py --store /tmp/tfx10k/metadata.sqlite

Works on a copy of the store (``--no-copy`` to use it in place). Timed, medians:
first attach (``mlstore.open`` of the MLMD file, the first index build), the queries of
``bench_core.py`` (full upstream lineage of the newest model, the metric series of one
TFMA metric on one slice over every evaluation, the latest blessed model) through mlstore,
and the same answers computed from raw MLMD the way TFX does (latest blessed:
``LatestBlessedModelStrategy`` over the pipeline context's outputs; metric series: each
evaluation's ``metrics-*.tfrecord``; latest blessed also by type, the fast raw answer).
``--raw-only`` skips mlstore.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import tfma_records  # noqa: E402 - the stdlib TFMA reader of the TFX tests

PIPELINE = "flights_tfx"
VALID_OUTPUTS = (pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT, pb.Event.INTERNAL_OUTPUT)


class RawTFX:
    """The three queries answered from MLMD and TFX's files, as TFX itself would."""

    def __init__(self, db: Path):
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = str(db)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
        self.store = metadata_store.MetadataStore(config)

    def latest_blessed(self) -> int | None:
        """channel_resolver + LatestBlessedModelStrategy: highest-id LIVE Model with a blessed==1 blessing."""
        s = self.store
        ctx = s.get_context_by_type_and_name("pipeline", PIPELINE)
        executions = s.get_executions_by_context(ctx.id)
        ids = {e.artifact_id for e in s.get_events_by_execution_ids([e.id for e in executions])
               if e.type in VALID_OUTPUTS}
        artifacts = s.get_artifacts_by_id(list(ids))
        model_type = s.get_artifact_type("Model").id
        blessing_type = s.get_artifact_type("ModelBlessing").id
        blessed = {a.custom_properties["current_model_id"].int_value for a in artifacts
                   if a.type_id == blessing_type and a.state == pb.Artifact.LIVE
                   and a.custom_properties["blessed"].int_value == 1}
        models = [a.id for a in artifacts if a.type_id == model_type and a.state == pb.Artifact.LIVE and a.id in blessed]
        return max(models) if models else None

    def latest_blessed_direct(self) -> int | None:
        """The same answer from MLMD by type (what a tool that knows TFX's records can ask)."""
        s = self.store
        blessed = {a.custom_properties["current_model_id"].int_value for a in s.get_artifacts_by_type("ModelBlessing")
                   if a.state == pb.Artifact.LIVE and a.custom_properties["blessed"].int_value == 1}
        models = [a.id for a in s.get_artifacts_by_type("Model") if a.state == pb.Artifact.LIVE and a.id in blessed]
        return max(models) if models else None

    def full_lineage(self, artifact_id: int) -> int:
        """Nodes upstream of ``artifact_id`` (producers via OUTPUT, their inputs via INPUT), any depth."""
        s = self.store
        seen_a, seen_e, frontier = {artifact_id}, set(), [artifact_id]
        while frontier:
            events = s.get_events_by_artifact_ids(frontier)
            producers = {e.execution_id for e in events if e.type == pb.Event.OUTPUT} - seen_e
            seen_e |= producers
            if not producers:
                break
            inputs = {e.artifact_id for e in s.get_events_by_execution_ids(list(producers))
                      if e.type == pb.Event.INPUT} - seen_a
            seen_a |= inputs
            frontier = list(inputs)
        return len(seen_a) + len(seen_e)

    def metric_series(self, metric: str, slice_name: str) -> list[float]:
        """One TFMA metric (example_weighted False, the candidate) of every evaluation, in id order."""
        out = []
        for evaluation in sorted(self.store.get_artifacts_by_type("ModelEvaluation"), key=lambda a: a.id):
            metrics = tfma_records.metrics(Path(evaluation.uri) / "metrics-00000-of-00001.tfrecord")
            for key, value in metrics.get(slice_name, {}).items():
                if key.name == metric and key.example_weighted is False and not key.is_diff \
                        and key.model_name in ("", "candidate"):
                    out.append(value)
        return out


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a TFX metadata.sqlite (gen_tfx_store.py)")
    parser.add_argument("--metric", default="binary_accuracy")
    parser.add_argument("--slice", default="Overall", help="TFMA slice name, e.g. Overall, carrier:AA")
    parser.add_argument("--mlstore-slice", default="Overall", help="the same slice in mlstore's naming")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copy", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--raw-only", action="store_true")
    args = parser.parse_args()
    db = args.store.resolve()
    if args.copy:
        work = Path(tempfile.mkdtemp(prefix="bench-tfx-"))
        shutil.copy2(db, work / "metadata.sqlite")  # artifact uris keep pointing at the original bytes
        db = work / "metadata.sqlite"
    try:
        run(db, args)
    finally:
        if args.copy:
            shutil.rmtree(db.parent, ignore_errors=True)


def run(db: Path, args) -> None:
    raw = RawTFX(db)
    rows = []
    # TFX's own resolution is slow on large stores: timed once.
    lb_tfx, raw_blessed = timed(raw.latest_blessed, 1)
    lb_raw, direct = timed(raw.latest_blessed_direct, args.repeat)
    assert direct == raw_blessed, f"latest blessed by type {direct} != TFX's resolution {raw_blessed}"
    newest_model = max(a.id for a in raw.store.get_artifacts_by_type("Model"))
    lin_raw, raw_nodes = timed(lambda: raw.full_lineage(newest_model), max(1, args.repeat // 2))
    ser_raw, raw_series = timed(lambda: raw.metric_series(args.metric, args.slice), max(1, args.repeat // 2))
    rows.append(("latest blessed, TFX's channel resolution, 1 run (ms)", None, lb_tfx))
    if args.raw_only:
        rows += [("latest blessed model (ms)", None, lb_raw), (f"full upstream lineage (ms) [{raw_nodes} nodes]", None, lin_raw),
                (f"metric series (ms) [{len(raw_series)} points]", None, ser_raw)]
    else:
        import mlstore  # noqa: PLC0415

        t = time.perf_counter()
        store = mlstore.open(str(db))
        attach_s = time.perf_counter() - t
        rows.append(("first attach: mlstore.open, index build (s)", attach_s, None))
        lb, blessed = timed(lambda: store.latest_blessed(PIPELINE), args.repeat)
        assert blessed is not None and blessed.id == raw_blessed, f"latest blessed {blessed} != {raw_blessed}"
        rows.append(("latest blessed model (ms)", lb, lb_raw))
        lin, graph = timed(lambda: store.lineage(f"artifact:{newest_model}", direction="up"), max(1, args.repeat // 2))
        rows.append((f"full upstream lineage (ms) [{graph.node_count} vs {raw_nodes} nodes]", lin, lin_raw))
        ser, series = timed(lambda: store.metric_series(PIPELINE, args.metric, args.mlstore_slice), args.repeat)
        assert [p.value for p in series] == raw_series, "metric series differ"
        rows.append((f"metric series (ms) [{len(series)} points]", ser, ser_raw))
        store.close()
    print(f"\n{db}: mlstore vs raw MLMD, medians")
    print(f"{'measure':58} {'mlstore':>10} {'raw MLMD':>10}")
    for name, ours, theirs in rows:
        fmt = lambda v: f"{v:10.2f}" if v is not None else f"{'-':>10}"  # noqa: E731
        print(f"{name:58} {fmt(ours)} {fmt(theirs)}")


if __name__ == "__main__":
    main()
