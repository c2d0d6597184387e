"""Index rows that commit out of id order (concurrent writers on a database server): the
lineage cache finds an event whose id it passed over, and a node indexed after one with
a higher id."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from mlstore.index import tables as t
from mlstore.index.graph_cache import GraphCache
from mlstore.lineage import lineage_from_cache, lineage_from_sql
from mlstore.store import OutputArtifact
from mlstore.types import NodeId


def _chain(store, tmp_path) -> tuple[int, int, int]:
    (tmp_path / "x").write_text("x")
    blob = store.blobs.publish(tmp_path / "x")
    out = lambda type_, role: OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, {})  # noqa: E731
    examples = store.log_execution("ExampleGen", "order", outputs=[out("Examples", "examples")]).output_ids[0]
    trainer = store.log_execution("Trainer", "order", inputs=[(examples, "examples")], outputs=[out("Model", "model")])
    return examples, trainer.execution_id, trainer.output_ids[0]


def _take(connection, table, condition) -> list[dict]:
    rows = [dict(r._mapping) for r in connection.execute(select(table).where(condition))]
    connection.execute(delete(table).where(condition))
    return rows


def test_an_event_committed_after_a_newer_one_is_found(sqlite_store, tmp_path):
    examples, trainer, model = _chain(sqlite_store, tmp_path)
    ev = t.event.c
    with sqlite_store.engine.begin() as connection:  # the Trainer's input: not committed yet
        late = _take(connection, t.event, (ev.execution_id == trainer) & ev.is_output.is_(False))
    cache = GraphCache(sqlite_store.engine)
    start = [NodeId("artifact", model)]
    before = lineage_from_cache(cache, start, "up")
    assert {str(n.id) for n in before.nodes} == {f"artifact:{model}", f"execution:{trainer}"}
    assert cache._holes  # the missing id below the newest is remembered
    with sqlite_store.engine.begin() as connection:
        connection.execute(insert(t.event), late)  # ... and commits now, with its lower id
    after = lineage_from_cache(cache, start, "up")
    assert f"artifact:{examples}" in {str(n.id) for n in after.nodes}
    assert after == lineage_from_sql(sqlite_store.engine, start, "up") and not cache._holes


def test_a_node_indexed_after_one_with_a_higher_id_is_found(sqlite_store, tmp_path):
    examples, trainer, model = _chain(sqlite_store, tmp_path)
    ev, a = t.event.c, t.artifact.c
    with sqlite_store.engine.begin() as connection:  # the Examples and its events: indexed late
        late_node = _take(connection, t.artifact, a.id == examples)
        late_events = _take(connection, t.event, ev.artifact_id == examples)
    cache = GraphCache(sqlite_store.engine)
    lineage_from_cache(cache, [NodeId("artifact", model)], "up")
    with sqlite_store.engine.begin() as connection:
        connection.execute(insert(t.artifact), late_node)
        connection.execute(insert(t.event), late_events)
    for start in ([NodeId("artifact", model)], [NodeId("artifact", examples)]):
        for direction in ("up", "down"):
            assert lineage_from_cache(cache, start, direction) == lineage_from_sql(sqlite_store.engine, start,
                                                                                   direction)
