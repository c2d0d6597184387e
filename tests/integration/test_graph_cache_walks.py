"""The adjacency cache's walks: level-by-level (bounded) and whole-graph give the same answer."""

import random

import numpy as np
import pytest

from mlstore.index import graph_arrays
from mlstore.index.graph_arrays import NodeIndex
from mlstore.index.graph_cache import node_order
from mlstore.lineage import lineage_from_sql
from mlstore.store import OutputArtifact
from mlstore.types import NodeId


def build_branching_graph(store, tmp_path, executions=60, seed=7):
    """Executions reading up to three random earlier artifacts and writing one or two:
    fan-in, fan-out, shared inputs, several roles."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "blob").write_text("x")
    blob = store.blobs.publish(tmp_path / "blob")
    rng = random.Random(seed)
    artifacts: list[int] = []
    nodes: list[NodeId] = []
    for i in range(executions):
        inputs = []
        for artifact in rng.sample(artifacts, min(len(artifacts), rng.randint(0, 3))):
            inputs.append((artifact, rng.choice(["data", "base"])))
        outputs = [OutputArtifact(rng.choice(["Examples", "Model"]), blob.uri, blob.digest, blob.size, f"out{k}", {})
                   for k in range(rng.randint(1, 2))]
        logged = store.log_execution(rng.choice(["Transform", "Trainer"]), "walks", inputs=inputs, outputs=outputs)
        artifacts += logged.output_ids
        nodes.append(NodeId("execution", logged.execution_id))
    return [NodeId("artifact", a) for a in artifacts] + nodes


def test_bounded_walks_equal_whole_graph_walks_and_recursive_sql(sqlite_store, tmp_path):
    nodes = build_branching_graph(sqlite_store, tmp_path)
    cache = sqlite_store.graph_cache
    cache.refresh()
    checked = 0
    for node in nodes[::3]:
        for depth in (0, 1, 2, 3, 5, 8):
            for upstream in (True, False):
                key = 2 * node.id + (node.kind == "execution")
                bounded = cache._walk_frontier(cache.dense([key]), upstream, depth)
                whole = cache._walk_whole(cache.dense([key]), upstream, depth)
                assert bounded.nodes.tolist() == whole.nodes.tolist()
                assert bounded.depths.tolist() == whole.depths.tolist()
                assert bounded.edge_rows.tolist() == whole.edge_rows.tolist()
                checked += len(whole.edge_rows) > 0
        for direction, depth in (("up", 2), ("down", 3), ("both", 4)):
            assert sqlite_store.lineage(node, direction, depth) == lineage_from_sql(
                sqlite_store.engine, [node], direction, depth)
    assert checked > 50  # most walks found edges: the graph is not trivially sparse
    starts = nodes[:2] + nodes[-2:]
    for direction in ("up", "down", "both"):
        cached = sqlite_store.lineage(starts, direction, 3, types=("Model", "Trainer"))
        assert cached == lineage_from_sql(sqlite_store.engine, starts, direction, 3, ("Model", "Trainer"))


def test_a_bounded_walk_sees_writes_made_after_the_last_one(sqlite_store, tmp_path):
    nodes = build_branching_graph(sqlite_store, tmp_path, executions=10)
    newest = nodes[-1]
    before = sqlite_store.lineage(newest, "up", 2)
    (tmp_path / "b2").write_text("y")
    blob = sqlite_store.blobs.publish(tmp_path / "b2")
    later = sqlite_store.log_execution("Trainer", "walks", inputs=[(nodes[0].id, "data")],
                                       outputs=[OutputArtifact("Model", blob.uri, blob.digest, blob.size, "m", {})])
    after = sqlite_store.lineage(f"artifact:{later.output_ids[0]}", "up", 2)
    assert [str(n.id) for n in after.nodes] == [str(nodes[0]), f"artifact:{later.output_ids[0]}",
                                               f"execution:{later.execution_id}"]
    assert sqlite_store.lineage(newest, "up", 2) == before


@pytest.mark.parametrize("rebuild_after", [4, 4096])  # rebuilt often / recent edges kept apart
def test_bounded_walks_stay_exact_while_writes_arrive(sqlite_store, tmp_path, monkeypatch, rebuild_after):
    monkeypatch.setattr(graph_arrays, "REBUILD_AFTER", rebuild_after)
    nodes = build_branching_graph(sqlite_store, tmp_path, executions=30)
    artifacts = [n for n in nodes if n.kind == "artifact"]
    rng = random.Random(rebuild_after)
    for upstream in (True, False):
        sqlite_store.lineage(nodes[0], "up" if upstream else "down", 2)  # both adjacencies built
    (tmp_path / "later").write_text("later")
    blob = sqlite_store.blobs.publish(tmp_path / "later")
    for _ in range(12):
        inputs = [(a.id, "data") for a in rng.sample(artifacts, 2)]
        logged = sqlite_store.log_execution("Trainer", "walks", inputs=inputs, outputs=[
            OutputArtifact("Model", blob.uri, blob.digest, blob.size, "m", {})])
        artifacts.append(NodeId("artifact", logged.output_ids[0]))
        for start in rng.sample(artifacts, 3):
            for direction, depth in (("up", 3), ("down", 2), ("both", 2)):
                assert sqlite_store.lineage(start, direction, depth) == lineage_from_sql(
                    sqlite_store.engine, [start], direction, depth)
    cache = sqlite_store.graph_cache
    recent = len(cache._adjacency(True).recent.rows)
    assert recent == 36 if rebuild_after == 4096 else recent <= max(4, len(cache.src) // 16)  # 3 edges a write


def test_the_node_index_finds_every_key_in_node_order_and_reports_missing_ones(sqlite_store):
    keys = np.array([4, 3, 10, 7, 12, 9, 2], np.int64)  # artifact 2 out of order: sorted, still found
    index = NodeIndex.of(keys)
    assert index.lookup(keys).tolist() == list(range(len(keys)))
    assert index.lookup(np.array([5, 6, 100, 0], np.int64)).tolist() == [-1, -1, -1, -1]
    assert index.order().tolist() == node_order(keys).tolist()
    grown = index.extended(np.array([14, 11, 8], np.int64), len(keys))
    everything = np.concatenate([keys, [14, 11, 8]])
    assert grown.lookup(everything).tolist() == list(range(len(everything)))
    assert grown.order().tolist() == node_order(everything).tolist()
    with pytest.raises(KeyError):
        sqlite_store.graph_cache.dense([2])  # an empty cache holds no node
