"""Lineage work never takes every RPC thread: calls waiting for a lineage slot are bounded,
the rest are answered UNAVAILABLE at once, and cheap calls keep being served."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

import mlstore
from mlstore import errors
from mlstore.server.app import ServeOptions, heavy_waiting
from mlstore.server.backend import Backend
from mlstore.server.query_services import MAX_START_NODES
from mlstore.v1 import lineage_service_pb2 as lpb
from mlstore.v1 import lineage_service_pb2_grpc as lgrpc
from mlstore.v1 import store_service_pb2 as spb
from mlstore.v1 import store_service_pb2_grpc as sgrpc
from mlstore.v1 import types_pb2 as tpb
from tests.grpc_support import build_days, serve


def test_waiting_lineage_calls_are_bounded_and_the_rest_refused_at_once(sqlite_store_uri):
    mlstore.open(sqlite_store_uri).close()
    backend = Backend(sqlite_store_uri, heavy_slots=1, heavy_waiting=2)
    try:
        held, release = threading.Event(), threading.Event()
        waited: list[str] = []

        def hold():
            with backend.heavy(timeout=30):
                held.set()
                release.wait(30)

        def wait_for_slot(name):
            with backend.heavy(timeout=30):
                waited.append(name)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(10)
        waiters = [threading.Thread(target=wait_for_slot, args=(n,)) for n in ("b", "c")]
        for w in waiters:
            w.start()
        while backend._heavy_waiting < 2:  # both are queued for the slot
            threading.Event().wait(0.01)
        with pytest.raises(errors.Unavailable, match="2 lineage queries are already waiting"):
            with backend.heavy(timeout=30):
                pass
        release.set()
        for t in [holder, *waiters]:
            t.join(30)
        assert sorted(waited) == ["b", "c"]  # the queued ones ran once the slot was free
        with backend.heavy(timeout=1):  # and the queue is empty again
            pass
    finally:
        backend.close()


def test_heavy_waiting_keeps_a_quarter_of_the_threads_for_cheap_calls():
    assert heavy_waiting(ServeOptions(store_uri="x", workers=64, lineage_slots=1)) == 47
    assert heavy_waiting(ServeOptions(store_uri="x", workers=4, lineage_slots=1)) == 1


def test_cheap_calls_are_served_while_lineage_calls_flood_the_server(sqlite_store_uri):
    store = mlstore.open(sqlite_store_uri)
    models = build_days(store, 60)
    store.close()
    with serve(sqlite_store_uri, "--workers", "6") as (_, target), grpc.insecure_channel(target) as channel:
        lineage, info = lgrpc.LineageServiceStub(channel), sgrpc.StoreServiceStub(channel)
        request = lpb.GetLineageRequest(start=[f"artifact:{models[-1]}"], direction=tpb.DIRECTION_UP)

        def heavy(_):
            try:
                return len(lineage.GetLineage(request, timeout=60).graph.node_ids) or "empty"
            except grpc.RpcError as e:
                return e.code()

        with ThreadPoolExecutor(max_workers=40) as pool:
            flood = [pool.submit(heavy, i) for i in range(120)]
            cheap = [info.GetStoreInfo(spb.GetStoreInfoRequest(), timeout=30) for _ in range(20)]
            outcomes = [f.result() for f in flood]
        assert all(c.api_version == "v1" for c in cheap)
        answered = [o for o in outcomes if isinstance(o, int)]
        assert answered and set(outcomes) - set(answered) <= {grpc.StatusCode.UNAVAILABLE}
        assert len(set(answered)) == 1  # every answer is the same whole graph
        too_many = lpb.GetLineageRequest(start=[f"artifact:{models[0]}"] * (MAX_START_NODES + 1))
        with pytest.raises(grpc.RpcError) as refused:
            lineage.GetLineage(too_many, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"at most {MAX_START_NODES}" in refused.value.details()


def test_a_lineage_answer_over_the_message_limit_is_refused_before_it_is_sent(tmp_path):
    """GetLineage answers RESOURCE_EXHAUSTED naming the limit and what to do (the server
    never tries to send it), and the Python client then streams the same graph in pages."""
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from mlstore.store import OutputArtifact  # noqa: PLC0415

    uri = str(tmp_path / "store")
    with mlstore.open(uri) as store:
        d = Path(tempfile.mkdtemp(dir=tmp_path))
        (d / "part").write_text("x")
        blob = store.blobs.publish(d)
        src = store.log_execution("ExampleGen", "wide", outputs=[
            OutputArtifact("Examples", blob.uri, blob.digest, blob.size, "examples", {})]).output_ids[0]
        # one execution with 30,000 outputs: a ~1.3 MiB lineage answer
        store.log_execution("Fanout", "wide", inputs=[(src, "examples")], outputs=[
            OutputArtifact("Examples", blob.uri, blob.digest, blob.size, "part", {}) for _ in range(30_000)])
        local = store.lineage(f"artifact:{src}", direction="down")
    assert local.node_count == 30_002
    with serve(uri, "--max-message-mb", "1") as (_, target), grpc.insecure_channel(target) as channel:
        stub = lgrpc.LineageServiceStub(channel)
        request = lpb.GetLineageRequest(start=[f"artifact:{src}"], direction=tpb.DIRECTION_DOWN)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetLineage(request, timeout=60)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "over the server's 1 MiB message limit: use StreamLineage" in info.value.details()
        with mlstore.open(f"grpc://{target}") as remote:
            assert remote.lineage(f"artifact:{src}", direction="down") == local
