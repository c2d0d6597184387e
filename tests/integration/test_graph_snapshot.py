"""The lineage cache's file snapshot: used only when intact and of this index, never a wrong answer."""

import dataclasses

import pytest

import mlstore
from mlstore._uri import parse_store_uri
from mlstore.index import graph_snapshot
from mlstore.index.graph_cache import GraphCache
from mlstore.lineage import lineage_from_cache
from mlstore.store import OutputArtifact
from tests.integration.test_graph_cache_walks import build_branching_graph


@pytest.fixture
def graph_store(tmp_path):
    """A store holding a branching graph, reopened so that its index names its MLMD
    (only such an index is snapshotted); and the graph's nodes."""
    uri = str(tmp_path / "store")
    with mlstore.open(uri) as store:
        nodes = build_branching_graph(store, tmp_path)
    store = mlstore.open(uri)
    yield store, nodes
    store.close()


def queries(nodes):
    """A spread of queries: unbounded, bounded, every direction, a type filter."""
    return [(nodes[-1], "up", None, ()), (nodes[0], "down", None, ()), (nodes[len(nodes) // 2], "both", 3, ()),
            (nodes[-2], "up", 2, ("Model",))]


def answers(cache, nodes):
    return [lineage_from_cache(cache, [start], direction, depth, types).to_json()
            for start, direction, depth, types in queries(nodes)]


def fresh_answers(store, nodes):
    """The same queries on a cache built from the index alone."""
    return answers(GraphCache(store.engine), nodes)


def log_more(store, tmp_path, inputs):
    (tmp_path / "more").write_text("more")
    blob = store.blobs.publish(tmp_path / "more")
    return store.log_execution("Trainer", "walks", inputs=[(a.id, "data") for a in inputs],
                               outputs=[OutputArtifact("Model", blob.uri, blob.digest, blob.size, "m", {})])


def test_a_new_cache_starts_from_the_snapshot_with_identical_answers(graph_store, tmp_path):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    assert path == sqlite_store.location.directory / "lineage-cache.npz"
    first = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    built = answers(first, nodes)
    assert path.is_file() and first.started_from_snapshot == 0  # built from the index, then written
    second = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    assert answers(second, nodes) == built == fresh_answers(sqlite_store, nodes)
    assert second.started_from_snapshot > 0
    assert second.keys.tolist() == first.keys.tolist() and second.roles == first.roles


def test_writes_after_the_snapshot_are_read_from_the_index_and_the_snapshot_refreshed(graph_store, tmp_path):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    answers(GraphCache(sqlite_store.engine, path, rewrite_after=1), nodes)
    taken = graph_snapshot.load(path).stamp.last_event
    later = log_more(sqlite_store, tmp_path, [nodes[0], nodes[3]])
    newest = mlstore.NodeId("artifact", later.output_ids[0])
    stale_start = GraphCache(sqlite_store.engine, path, rewrite_after=1000)  # too few new events to rewrite
    graph = lineage_from_cache(stale_start, [newest], "up", 1)
    assert [str(n.id) for n in graph.nodes] == [str(newest), f"execution:{later.execution_id}"]
    assert stale_start.started_from_snapshot == taken
    assert answers(stale_start, nodes + [newest]) == fresh_answers(sqlite_store, nodes + [newest])
    assert graph_snapshot.load(path).stamp.last_event == taken  # not rewritten below the threshold
    rewriting = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    lineage_from_cache(rewriting, [newest], "up", 1)
    assert graph_snapshot.load(path).stamp.last_event > taken


@pytest.mark.parametrize("damage", ["flipped bytes", "truncated", "not a zip", "empty"])
def test_a_damaged_snapshot_is_detected_and_rebuilt(graph_store, tmp_path, damage, caplog):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    expected = answers(GraphCache(sqlite_store.engine, path, rewrite_after=1), nodes)
    data = bytearray(path.read_bytes())
    if damage == "flipped bytes":  # inside the edge arrays: the zip still opens, the checksum catches it
        for offset in range(len(data) // 3, len(data) // 3 + 64):
            data[offset] ^= 0x5A
    elif damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "not a zip":
        data = bytearray(b"lineage" * 100)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert graph_snapshot.load(path) is None
    assert "unreadable" in caplog.text
    cache = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    assert answers(cache, nodes) == expected
    assert cache.started_from_snapshot == 0
    assert graph_snapshot.load(path) is not None  # written anew


def test_a_snapshot_of_another_index_or_of_a_different_ending_is_not_used(graph_store, tmp_path):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    expected = answers(GraphCache(sqlite_store.engine, path, rewrite_after=1), nodes)
    good = graph_snapshot.load(path)
    with mlstore.open(str(tmp_path / "other")) as other:
        other_nodes = build_branching_graph(other, tmp_path / "b", executions=20, seed=3)
    other = mlstore.open(str(tmp_path / "other"))
    other_path = graph_snapshot.snapshot_path(other.location)
    other_path.write_bytes(path.read_bytes())  # a foreign snapshot: another MLMD fingerprint
    foreign = GraphCache(other.engine, other_path)
    assert answers(foreign, other_nodes) == fresh_answers(other, other_nodes)
    assert foreign.started_from_snapshot == 0
    other.close()
    last_edge = (good.stamp.last_edge[1], good.stamp.last_edge[0], *good.stamp.last_edge[2:])
    for changed in (dataclasses.replace(good.stamp, last_edge=last_edge),
                    dataclasses.replace(good.stamp, last_artifact_node=good.stamp.last_artifact_node + 2),
                    dataclasses.replace(good.stamp, last_event=good.stamp.last_event + 1),
                    dataclasses.replace(good.stamp, identity=good.stamp.identity + "0")):
        assert graph_snapshot.save(path, dataclasses.replace(good, stamp=changed))
        cache = GraphCache(sqlite_store.engine, path)
        assert answers(cache, nodes) == expected
        assert cache.started_from_snapshot == 0, changed


def test_a_snapshot_whose_arrays_do_not_fit_together_is_not_used(graph_store, caplog):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    expected = answers(GraphCache(sqlite_store.engine, path, rewrite_after=1), nodes)
    good = graph_snapshot.load(path)
    src = good.arrays["src"].copy()
    src[0] = len(good.arrays["keys"])  # an edge from a node that is not there
    without_order = {k: v for k, v in good.arrays.items() if k != "edge_order"}
    for arrays in ({**good.arrays, "src": src}, without_order, {**good.arrays, "dst": good.arrays["dst"][:-1]}):
        assert graph_snapshot.save(path, dataclasses.replace(good, arrays=arrays))
        cache = GraphCache(sqlite_store.engine, path)
        assert answers(cache, nodes) == expected and cache.started_from_snapshot == 0
    assert "does not hold together" in caplog.text


def test_reindex_drops_the_snapshot_and_one_of_the_index_before_it_is_not_used(graph_store, tmp_path):
    sqlite_store, nodes = graph_store
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    expected = answers(GraphCache(sqlite_store.engine, path, rewrite_after=1), nodes)
    before = graph_snapshot.load(path)
    sqlite_store.reindex()
    assert not path.exists()
    assert graph_snapshot.save(path, before)  # e.g. written by a process still holding the old cache
    cache = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    assert answers(cache, nodes) == expected and cache.started_from_snapshot == 0
    assert graph_snapshot.load(path).stamp.identity != before.stamp.identity  # reindex recorded MLMD anew


def test_database_stores_persist_only_into_a_named_cache_dir(monkeypatch, tmp_path):
    uri = "postgresql://postgres@127.0.0.1:5432/somedb?artifact_root=/tmp/x"
    monkeypatch.delenv(graph_snapshot.CACHE_DIR_ENV, raising=False)
    assert graph_snapshot.snapshot_path(parse_store_uri(uri)) is None
    monkeypatch.setenv(graph_snapshot.CACHE_DIR_ENV, str(tmp_path))
    path = graph_snapshot.snapshot_path(parse_store_uri(uri))
    assert path.parent == tmp_path and path.name.startswith("lineage-") and path.suffix == ".npz"
    elsewhere = graph_snapshot.snapshot_path(parse_store_uri(uri.replace("somedb", "otherdb")))
    assert elsewhere != path
    assert graph_snapshot.snapshot_path(parse_store_uri("grpc://127.0.0.1:1")) is None


@pytest.mark.parametrize("backend", ["mysql", "postgresql"])
def test_a_database_store_starts_from_its_snapshot_in_the_cache_dir(backend, tmp_path, monkeypatch):
    from tests import backends

    monkeypatch.setenv(graph_snapshot.CACHE_DIR_ENV, str(tmp_path / "cache"))
    uris = backends.fresh_store_uri(backend, tmp_path)
    uri = next(uris)
    try:
        with mlstore.open(uri) as store:
            nodes = build_branching_graph(store, tmp_path, executions=15)
        with mlstore.open(uri) as store:  # records MLMD's fingerprint: now snapshots are kept
            path = graph_snapshot.snapshot_path(store.location)
            expected = answers(GraphCache(store.engine, path, rewrite_after=1), nodes)
            assert path.is_file()
        with mlstore.open(uri) as reopened:
            assert reopened.graph_cache.snapshot == path
            assert answers(reopened.graph_cache, nodes) == expected == fresh_answers(reopened, nodes)
            assert reopened.graph_cache.started_from_snapshot > 0
    finally:
        uris.close()


def test_an_index_that_does_not_name_its_mlmd_yet_is_not_snapshotted(sqlite_store, tmp_path):
    nodes = build_branching_graph(sqlite_store, tmp_path)  # a new store: fingerprint recorded at next open
    path = graph_snapshot.snapshot_path(sqlite_store.location)
    cache = GraphCache(sqlite_store.engine, path, rewrite_after=1)
    assert answers(cache, nodes) == fresh_answers(sqlite_store, nodes)
    assert not path.exists()
