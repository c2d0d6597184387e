"""A small platform-scale store (benchmarks/gen_scale_store.py) on every backend: each
pipeline's queries answer for that pipeline alone, the lineage equals raw MLMD's, and the
per-pipeline lineage caches (mlstore/index/graph_scopes.py) give the answers of the
whole-graph cache, also when lineage crosses pipelines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import mlstore
from mlstore._mlmd import connection_config
from mlstore.index import graph_scopes
from mlstore.lineage import lineage_from_sql
from mlstore.store import OutputArtifact
from mlstore.warmstart.from_store import select_warm_start

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_scale_store as gen  # noqa: E402

PIPELINES, DAYS = 6, 13


def generate(uri: str, days: int, workers: int = 2) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_scale_store.py"), "--store", uri,
                           "--pipelines", str(PIPELINES), "--days", str(days), "--workers", str(workers),
                           "--chunk-days", "5"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def raw_upstream(raw: metadata_store.MetadataStore, model_id: int) -> tuple[set, set, set]:
    """Node ids and edges of MLMD's own upstream subgraph (the chain is < 100 hops here)."""
    options = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {model_id}"),
        max_num_hops=100, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
    graph = raw.get_lineage_subgraph(options)
    edges = {(f"execution:{e.execution_id}", f"artifact:{e.artifact_id}", e.type == pb.Event.OUTPUT)
             for e in graph.events}
    return {a.id for a in graph.artifacts}, {e.id for e in graph.executions}, edges


def ours(graph) -> tuple[set, set, set]:
    edges = {(str(e.source if e.event_type == "OUTPUT" else e.target),
              str(e.target if e.event_type == "OUTPUT" else e.source), e.event_type == "OUTPUT") for e in graph.edges}
    return ({n.id.id for n in graph.nodes if n.id.kind == "artifact"},
            {n.id.id for n in graph.nodes if n.id.kind == "execution"}, edges)


def test_every_pipeline_answers_for_itself_and_lineage_matches_raw_mlmd(store_uri, monkeypatch, tmp_path):
    summary = generate(store_uri, DAYS - 3)
    again = generate(store_uri, DAYS, workers=3)  # resumed: only the new days are written
    assert summary["days_written"] == PIPELINES * (DAYS - 3) and again["days_written"] == PIPELINES * 3
    assert again["executions"] == again["artifacts"] == 6 * PIPELINES * DAYS
    assert again["events"] == PIPELINES * (18 * DAYS - 3)  # day 1 has no base model
    assert generate(store_uri, DAYS)["days_written"] == 0

    store = mlstore.open(store_uri)
    raw = metadata_store.MetadataStore(connection_config(store.location))
    assert store.pipelines() == [gen.pipeline_name(p) for p in range(PIPELINES)]
    newest_ids = {}
    for p in range(PIPELINES):
        name = gen.pipeline_name(p)
        own = ({a.id for a in store.artifacts(pipeline=name)}, {e.id for e in store.executions(pipeline=name)})
        newest = store.newest_daily_model(name)
        assert (newest.span, newest.pipeline) == (DAYS, name)
        newest_ids[name] = newest.id
        graph = store.lineage(newest, "up")
        artifacts, executions, edges = ours(graph)
        assert artifacts <= own[0] and executions <= own[1]  # nothing of another pipeline
        assert (artifacts, executions, edges) == raw_upstream(raw, newest.id)
        assert {n.type for n in graph.nodes if n.id.kind == "artifact"} == {"Examples", "TransformGraph", "Model"}

        blessed_day = gen.last_blessed_day(DAYS)
        latest = store.latest_blessed(name)
        assert (latest.span, latest.pipeline, latest.type) == (blessed_day, name, "Model")
        series = store.metric_series(name, "auc_roc", "carrier=AA")
        assert [(pt.span, pt.value) for pt in series] == [
            (d, pytest.approx(gen.metric_value(p, d, 1, 19))) for d in range(1, DAYS + 1)]
        choice = select_warm_start(store, name, "latest_blessed")
        assert choice.chosen.model_id == f"artifact:{latest.id}"
        (decision,) = store.blessings(model=newest)
        assert (decision.blessed, decision.pipeline, decision.span) == (gen.blessed(DAYS), name, DAYS)
        baseline = store.daily_models(name)[gen.last_blessed_day(DAYS - 1) - 1]
        assert decision.baseline_id == baseline.id
    store.close()

    # The same answers from per-pipeline caches, bounded to fewer edges than one pipeline holds.
    whole = mlstore.open(store_uri)
    monkeypatch.setenv(graph_scopes.MAX_EDGES_ENV, "50")
    scoped = mlstore.open(store_uri)
    for name, model_id in newest_ids.items():
        first_examples = scoped.artifacts(type="Examples", pipeline=name)[0]
        for start, direction in ((f"artifact:{model_id}", "up"), (first_examples, "down"),
                                 (f"artifact:{model_id}", "both")):
            assert scoped.lineage(start, direction) == whole.lineage(start, direction)
        assert scoped.graph_scopes.scopes() == [frozenset({name})]  # one pipeline held at a time
    assert len(whole.graph_cache.src) == again["events"] and len(scoped.graph_cache.src) == 0

    # Lineage across pipelines: pipeline 1 reads pipeline 0's newest model.
    (tmp_path / "cross.txt").write_text("cross")
    blob = scoped.blobs.publish(tmp_path / "cross.txt")
    p0, p1 = gen.pipeline_name(0), gen.pipeline_name(1)
    crossing = scoped.log_execution("Trainer", p1, inputs=[(newest_ids[p0], "base_model"),
                                                           (newest_ids[p1], "model")],
                                    outputs=[OutputArtifact("Model", blob.uri, blob.digest, blob.size, "model", {})])
    out = f"artifact:{crossing.output_ids[0]}"
    up = scoped.lineage(out, "up")
    assert up == lineage_from_sql(scoped.engine, [scoped.resolve(out)], "up") == whole.lineage(out, "up")
    assert {newest_ids[p0], newest_ids[p1]} <= {n.id.id for n in up.nodes if n.id.kind == "artifact"}
    assert frozenset({p0, p1}) in scoped.graph_scopes.scopes()
    scoped.graph_scopes.clear()
    down = scoped.lineage(f"artifact:{newest_ids[p0]}", "down")  # from pipeline 0 into pipeline 1
    assert crossing.execution_id in {n.id.id for n in down.nodes if n.id.kind == "execution"}
    assert down == whole.lineage(f"artifact:{newest_ids[p0]}", "down")
    assert scoped.graph_scopes.scopes() == [frozenset({p0, p1})]
    scoped.close()
    whole.close()


def test_mariadb_metric_catalogue_is_a_seek_per_value_not_a_scan_of_the_history(tmp_path):
    """The dashboard home page's metric names and slices on MariaDB read the pipeline's
    entries of the series dictionary (a probe each), not every metric row of the pipeline
    once per value (the recursive skip scan did: 21 x 200 x days rows for the metric names)."""
    from sqlalchemy import text

    from mlstore.index import metric_tiers, queries
    from tests import backends

    fresh = backends.fresh_store_uri("mysql", tmp_path)
    uri = next(fresh)
    try:
        days = 45  # 9,000 metric rows a pipeline: more than FOLD_ROWS, so most are in the series index
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_scale_store.py"), "--store", uri,
                               "--pipelines", "2", "--days", str(days), "--workers", "2", "--chunk-days", "15"],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        store = mlstore.open(uri)
        metric_tiers.fold(store.engine)  # every row in the series index: the reads counted are its seeks
        name = gen.pipeline_name(1)

        def reads(connection) -> int:
            rows = connection.execute(text("SHOW SESSION STATUS LIKE 'Handler_read%'")).all()
            return sum(int(value) for _, value in rows)

        with store.engine.connect() as connection:
            before = reads(connection)
            names = queries.metric_names(connection, name)
            after_names = reads(connection)
            slices = queries.slice_keys(connection, name)
            after_slices = reads(connection)
            # latest blessed: a backward seek of (pipeline, blessed), not a sort of the pipeline's blessings
            latest = queries._LATEST_BLESSED.compile(dialect=connection.dialect)
            params = latest.construct_params({"pipeline": name, "limit": 8, "offset": 0})
            if latest.positional:
                params = tuple(params[key] for key in latest.positiontup)
            plan = connection.exec_driver_sql(f"EXPLAIN {latest.string}", params).mappings().all()
            latest_id = queries.latest_blessed_model_id(connection, name)
        latest_model = store.latest_blessed(name)
        store.close()
        assert (latest_model.id, latest_model.span) == (latest_id, gen.last_blessed_day(days))
        blessing_step = next(row for row in plan if row["table"] == "mlstore_blessing")
        assert "filesort" not in (blessing_step["Extra"] or "") and blessing_step["ref"] == "const,const", plan

        assert names == sorted(gen.METRICS)
        assert slices == sorted(gen.SLICES)
        history = days * len(gen.METRICS) * len(gen.SLICES)
        series = len(gen.METRICS) * len(gen.SLICES)  # the pipeline's entries in the series dictionary
        # a probe of an entry reads ~2-3 index entries; SHOW STATUS reads its own few dozen rows
        assert after_names - before < 3 * series + 200 < history, after_names - before
        assert after_slices - after_names < 3 * series + 200 < history, after_slices - after_names
    finally:
        fresh.close()
