"""AdminService through a real `mlstore serve --tokens`: gc and pins run on the server's
store with the admin scope only; a remote gc plans and reclaims exactly what a local gc
does, and `mlstore gc/pin/unpin/pins --server` print what the local commands print."""

from __future__ import annotations

import json
import shutil

import grpc
import pytest

import mlstore
import mlstore.client
from mlstore import errors
from mlstore import gc as gc_api
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.v1 import admin_service_pb2 as adpb
from mlstore.v1 import admin_service_pb2_grpc as adgrpc
from tests.grpc_support import ADMIN, READ, WRITE, build_days, serve_with_tokens

DAYS = 8


@pytest.fixture()
def stores(tmp_path):
    """Two identical stores (one for the server, one gc'd locally to compare with)."""
    served, local = tmp_path / "served", tmp_path / "local"
    with mlstore.open(str(served)) as store:
        models = build_days(store, DAYS)
    shutil.copytree(served, local)
    return str(served), str(local), models


def _cli(capsys, *args):
    code = run_cli(cli, [*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _status(call):
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_remote_gc_plans_and_reclaims_what_a_local_gc_does(stores, tmp_path, capsys):
    served, local, models = stores
    policy = gc_api.make_policy({"keep_days": 3, "grace_minutes": 0, "lineage_may_outlive_bytes": True})
    with serve_with_tokens(served, tmp_path) as target:
        with mlstore.client.RemoteStore(target, token=ADMIN) as remote, mlstore.open(local) as here:
            planned = remote.collect_garbage(policy, dry_run=True)
            local_plan = here.collect_garbage(policy, dry_run=True)
            assert planned.to_json() == local_plan.to_json()
            assert planned.plan.reclaim and planned.plan.blobs, "the policy must reclaim something to test"
            assert [a.node_id for a in planned.plan.reclaim] == [a.node_id for a in local_plan.plan.reclaim]
            assert planned.plan.kept == local_plan.plan.kept and all(planned.plan.kept.values())
            done = remote.collect_garbage(policy)
            here_done = here.collect_garbage(policy)
            assert not done.dry_run and done.marked == len(planned.plan.reclaim) == here_done.marked
            assert done.bytes_freed == here_done.bytes_freed == planned.plan.total_bytes > 0
            assert sorted(b.digest for b in done.swept) == sorted(b.digest for b in here_done.swept)
        with mlstore.open(served) as after:
            reclaimed = {a.id for a in planned.plan.reclaim}
            states = {a.id: a.state for a in after.artifacts()}
            assert {i for i, s in states.items() if s == "DELETED"} == reclaimed
            assert not after.verify(), "every LIVE artifact's bytes are intact after a remote gc"
        # the CLI through the server prints exactly what the local command prints (nothing left now)
        flags = ("gc", "--dry-run", "--keep-days", "3", "--grace-minutes", "0", "--lineage-may-outlive-bytes")
        for json_flag in ((), ("--json",)):
            remote_out = _cli(capsys, *flags, *json_flag, "--server", target, "--token", ADMIN)
            local_out = _cli(capsys, *flags, *json_flag, "--store", local)
            assert remote_out[0] == 0 and remote_out[:2] == local_out[:2]
        assert json.loads(remote_out[1])["reclaim"] == []


def test_gc_and_pins_need_the_admin_scope_and_write_nothing_without_it(stores, tmp_path, capsys):
    served, _, models = stores
    with serve_with_tokens(served, tmp_path) as target, grpc.insecure_channel(target) as channel:
        stub = adgrpc.AdminServiceStub(channel)
        policy = adpb.RetentionPolicy(keep_days=1, grace_minutes=0)
        for token in (READ, WRITE):
            meta = (("authorization", f"Bearer {token}"),)
            for call in (lambda: stub.CollectGarbage(adpb.CollectGarbageRequest(policy=policy), metadata=meta, timeout=30),
                         lambda: stub.CollectGarbage(adpb.CollectGarbageRequest(policy=policy, dry_run=True),
                                                     metadata=meta, timeout=30),
                         lambda: stub.PinArtifact(adpb.PinArtifactRequest(ref=f"artifact:{models[0]}"), metadata=meta,
                                                  timeout=30),
                         lambda: stub.UnpinArtifact(adpb.UnpinArtifactRequest(ref=f"artifact:{models[0]}"),
                                                    metadata=meta, timeout=30)):
                code, details = _status(call)
                assert code == grpc.StatusCode.PERMISSION_DENIED and "lacks the 'admin' scope" in details
        code, _ = _status(lambda: stub.CollectGarbage(adpb.CollectGarbageRequest(policy=policy), timeout=30))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        # ListPins is a read
        assert not stub.ListPins(adpb.ListPinsRequest(), metadata=(("authorization", f"Bearer {READ}"),), timeout=30).pins
        code, _, err = _cli(capsys, "gc", "--keep-days", "1", "--server", target, "--token", WRITE)
        assert code == 2 and err.count("\n") == 1 and "lacks the 'admin' scope" in err
        with mlstore.open(served) as after:
            assert all(a.state == "LIVE" for a in after.artifacts()), "a refused gc changed nothing"
            assert not after.pins()


def test_pins_through_the_server_protect_a_model_from_a_remote_gc(stores, tmp_path, capsys):
    served, _, models = stores
    oldest = f"artifact:{models[0]}"
    with serve_with_tokens(served, tmp_path) as target:
        code, out, _ = _cli(capsys, "pin", oldest, "--reason", "audit 2013", "--server", target, "--token", ADMIN)
        assert code == 0 and out.strip() == f"pinned {oldest} (Model): audit 2013"
        code, out, _ = _cli(capsys, "pins", "--json", "--server", target, "--token", READ)
        assert json.loads(out) == [{"artifact": oldest, "type": "Model", "reason": "audit 2013"}]
        with mlstore.client.RemoteStore(target, token=ADMIN) as remote:
            result = remote.collect_garbage(gc_api.make_policy({"keep_days": 1, "grace_minutes": 0}))
            assert models[0] in result.plan.kept and "pinned" in result.plan.kept[models[0]]
            assert models[0] not in {a.id for a in result.plan.reclaim}
            # bad input comes back typed, nothing written
            with pytest.raises(errors.InvalidArgument, match="keep_days and/or keep_last"):
                remote.collect_garbage(gc_api.RetentionPolicy())
            with pytest.raises(errors.NotFound):
                remote.pin("artifact:999999")
            with pytest.raises(errors.InvalidArgument, match="reason"):
                remote.pin(oldest, "x" * 1001)
            assert remote.unpin(oldest) is True and remote.unpin(oldest) is False
            assert remote.pins() == []
        with mlstore.open(served) as after:
            assert after.artifact(oldest).state == "LIVE" and not after.pins()
