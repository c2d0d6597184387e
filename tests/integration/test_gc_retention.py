"""Retention and gc on a 60-day daily store: the plan is checked against an independent
walk of MLMD events, then gc runs and bytes, verification and lineage are checked."""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

import mlstore
from mlstore import errors, gc
from mlstore._uri import StoreLocation
from mlstore.gc.inventory import Inventory
from mlstore.store import Store
from tests.integration.test_gc_daily import PIPELINE, is_blessed_day, log_days

DAYS, KEEP_DAYS = 60, 7
MLSTORE = str(Path(sys.executable).with_name("mlstore"))


def _prop(artifact, key: str):
    """An MLMD (type or custom) property: on TFX-named types mlstore's fields are custom properties."""
    return artifact.properties[key] if key in artifact.properties else artifact.custom_properties[key]


def mlstore_cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the installed ``mlstore`` command. A subprocess, not in-process: MLMD's SQLite
    and Python's sqlite3 must not both hold the same database file in one process."""
    return subprocess.run([MLSTORE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MLSTORE_URI": ""})


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A 60-day store, built once; tests copy it."""
    root = tmp_path_factory.mktemp("gc-template") / "store"
    store = mlstore.open(str(root))
    log_days(store, 1, DAYS)
    store.close()
    return root


def copy_store(template, target):
    shutil.copytree(template, target)
    return mlstore.open(str(target))


# -- the independent computation: MLMD events only, no mlstore index ----------------------

def expected_kept(store) -> set[int]:
    """Keep set of "last 7 days + blessed + pushed", walking MLMD events directly."""
    raw = store.metadata.raw
    names = {t.id: t.name for t in raw.get_artifact_types()}
    arts = {a.id: a for a in raw.get_artifacts()}
    type_of = {i: names[a.type_id] for i, a in arts.items()}
    newest = max(_prop(a, "span").int_value for a in arts.values())
    kept = {i for i, a in arts.items() if _prop(a, "span").int_value > newest - KEEP_DAYS}
    for i, a in arts.items():
        if type_of[i] == "ModelBlessing" and _prop(a, "blessed").int_value == 1:
            kept |= {i, _prop(a, "current_model_id").int_value}
        if type_of[i] == "PushedModel":
            kept.add(i)
            kept |= {m for m in _inputs_of_producer(raw, i) if type_of[m] == "Model"}
    frontier = set(kept)
    while frontier:
        new = set()
        for artifact_id in frontier:  # upstream: producer's inputs, recursively
            new |= _inputs_of_producer(raw, artifact_id)
        for artifact_id in frontier | new:  # evaluations/blessings of kept models
            if type_of[artifact_id] == "Model":
                for ev in raw.get_events_by_artifact_ids([artifact_id]):
                    if ev.type == pb.Event.INPUT and ev.path.steps[0].key == "model":
                        for out in raw.get_events_by_execution_ids([ev.execution_id]):
                            if out.type == pb.Event.OUTPUT and type_of[out.artifact_id] in ("ModelEvaluation", "ModelBlessing"):
                                new.add(out.artifact_id)
        frontier = new - kept
        kept |= new
    return kept


def _inputs_of_producer(raw, artifact_id: int) -> set[int]:
    producers = [e.execution_id for e in raw.get_events_by_artifact_ids([artifact_id]) if e.type == pb.Event.OUTPUT]
    return {e.artifact_id for e in raw.get_events_by_execution_ids(producers) if e.type == pb.Event.INPUT}


POLICY = gc.make_policy({"keep_days": KEEP_DAYS, "grace_minutes": 0})


@pytest.fixture(scope="module")
def collected(template, tmp_path_factory):
    """The 60-day store before and after one gc, with the dry run's plan."""
    store = copy_store(template, tmp_path_factory.mktemp("gc-run") / "store")
    expected = expected_kept(store)
    inventory = Inventory(store.blobs)
    before = inventory.object_bytes()
    dry = gc.collect(store, POLICY, dry_run=True)
    after_dry = inventory.object_bytes()
    result = gc.collect(store, POLICY)
    yield {"store": store, "expected": expected, "dry": dry, "result": result,
           "before": before, "after_dry": after_dry, "after": inventory.object_bytes()}
    store.close()


def test_dry_run_lists_exactly_the_independently_computed_artifacts(collected):
    store, dry = collected["store"], collected["dry"]
    every = {a.id for a in store.metadata.raw.get_artifacts()}
    assert set(dry.plan.kept) == collected["expected"]
    assert {a.id for a in dry.plan.reclaim} == every - collected["expected"]
    assert dry.marked == 0 and not dry.swept and collected["after_dry"] == collected["before"]
    # 60 days: 7 recent days are kept whole; older non-blessed days lose everything but lineage needs
    assert dry.plan.artifacts_by_type["Model"] == sum(1 for d in range(1, DAYS - KEEP_DAYS + 1) if not is_blessed_day(d))


def test_every_kept_artifact_says_which_root_keeps_it(collected):
    store, kept = collected["store"], collected["dry"].plan.kept
    by_type_span = {(a.type, a.span): a.id for a in store.artifacts()}
    model_10 = by_type_span[("Model", 10)]
    assert kept[model_10] == "model that was pushed"  # roots rank: pinned, pushed, blessed, ...
    assert kept[by_type_span[("PushedModel", 10)]] == "pushed model"
    assert kept[by_type_span[("ModelBlessing", 10)]] == f"blessing of blessed model artifact:{model_10}"
    assert kept[by_type_span[("Examples", 57)]] == f"within last 7 days of {PIPELINE} (span >= 54)"
    assert kept[by_type_span[("Examples", 10)]] == f"upstream of artifact:{model_10}"
    blessing_10 = by_type_span[("ModelBlessing", 10)]
    assert kept[by_type_span[("ModelEvaluation", 10)]] == f"upstream of artifact:{blessing_10}"


def test_gc_frees_exactly_the_reported_bytes_and_kept_models_verify(collected):
    store, dry, result = collected["store"], collected["dry"], collected["result"]
    assert result.bytes_freed == dry.plan.total_bytes > 0
    assert collected["before"] - collected["after"] == result.bytes_freed
    assert sum(dry.plan.bytes_by_type.values()) == result.bytes_freed
    assert result.marked == len(dry.plan.reclaim)
    assert store.verify() == {}
    kept_models = [a for a in store.artifacts(type="Model") if a.state != "DELETED"]
    assert kept_models and store.verify([m.node_id for m in kept_models]) == {}
    for model in kept_models:  # what a rerun of its Trainer needs is LIVE and verifies
        [trainer] = [e.execution_id for e in store.events(model.node_id) if e.is_output]
        inputs = [store.artifact(e.artifact_id) for e in store.events(f"execution:{trainer}") if not e.is_output]
        assert inputs and all(a.state == "LIVE" for a in inputs)
        assert store.verify([a.node_id for a in inputs]) == {}


def test_deleted_records_keep_their_properties_and_shared_blobs_survive(collected):
    store = collected["store"]
    deleted = store.artifacts(state="DELETED")
    assert {a.id for a in deleted} == {a.id for a in collected["dry"].plan.reclaim}
    [proto] = store.metadata.raw.get_artifacts_by_id([deleted[0].id])
    assert proto.state == pb.Artifact.DELETED and _prop(proto, "digest").string_value == deleted[0].digest
    examples = {a.span: a for a in store.artifacts(type="Examples")}
    assert examples[3].state == "DELETED" and examples[58].state == "LIVE"
    assert examples[3].digest == examples[58].digest and store.blobs.exists(examples[58].digest)
    assert not store.blobs.exists(examples[2].digest)
    again = gc.collect(store, POLICY)
    assert again.marked == 0 and again.bytes_freed == 0


def test_lineage_shows_deleted_nodes_and_verify_skips_them(collected):
    store = collected["store"]
    model_2 = next(a for a in store.artifacts(type="Model") if a.span == 2)
    graph = store.lineage(model_2.node_id, direction="both")
    states = {n.id: n.state for n in graph.nodes if n.id.kind == "artifact"}
    assert states[model_2.node_id] == "DELETED"
    assert "LIVE" in states.values()  # the blessed base model day 1 it warm-started from
    assert store.verify() == {}
    done = mlstore_cli("lineage", str(model_2.node_id), "--store", store.uri, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert {n["state"] for n in payload["nodes"] if n["id"] == str(model_2.node_id)} == {"DELETED"}


def test_pins_keep_an_artifact_and_its_lineage_and_survive_reindex(tmp_path):
    store = mlstore.open(str(tmp_path / "s"))
    log_days(store, 1, 8)
    model_2 = next(a for a in store.artifacts(type="Model") if a.span == 2)
    examples_2 = next(a for a in store.artifacts(type="Examples") if a.span == 2)
    gc.pin(store, model_2.node_id, "paper figure 3")
    store.reindex()  # the pin lives in MLMD, so a rebuilt index still has it
    assert [(p.artifact, p.reason) for p in gc.list_pins(store)] == [(model_2.node_id, "paper figure 3")]
    plan = gc.make_plan(store, gc.make_policy({"keep_days": 2, "grace_minutes": 0}))
    assert plan.kept[model_2.id] == "pinned: paper figure 3"
    assert plan.kept[examples_2.id] == f"upstream of {model_2.node_id}"
    companions = {a.type: a.id for a in store.artifacts() if a.span == 2 and a.type.startswith("ModelB")
                  or a.span == 2 and a.type == "ModelEvaluation"}
    assert plan.kept[companions["ModelEvaluation"]] == f"evaluation of kept model {model_2.node_id}"
    assert plan.kept[companions["ModelBlessing"]] == f"blessing of kept model {model_2.node_id}"
    assert gc.unpin(store, model_2.node_id) and not gc.unpin(store, model_2.node_id)
    plan = gc.make_plan(store, gc.make_policy({"keep_days": 2, "grace_minutes": 0}))
    assert model_2.id not in plan.kept


def test_keep_last_per_type_and_module_versions(tmp_path):
    store = mlstore.open(str(tmp_path / "s"))
    module_file = tmp_path / "embedding.txt"
    module_file.write_text("embedding v1")
    with mlstore.run("hub", "HubPublish", store=store) as run:
        run.log_artifact(module_file, "HubModule", "module", {"publisher": "team", "name": "emb", "version": 1})
    module = run.outputs[0]
    log_days(store, 1, 8)
    plan = gc.make_plan(store, gc.make_policy({"keep_last": 2, "keep_blessed": False, "keep_pushed": False,
                                                "grace_minutes": 0}))
    assert plan.kept[module.id] == "HubModule version"
    models = [a for a in store.artifacts(type="Model")]
    assert [plan.kept.get(m.id) for m in models[-2:]] == [f"one of the last 2 Model of {PIPELINE}"] * 2
    # warm-start chain 8 <- 5 <- 1: lineage keeps the base models of the kept ones
    assert {m.span for m in models if m.id not in plan.kept} == {2, 3, 4, 6}
    assert all(plan.kept[m.id].startswith("upstream of artifact:") for m in models if m.span in (1, 5))


def test_lineage_may_outlive_bytes_keeps_blessed_models_but_not_their_inputs(tmp_path):
    store = mlstore.open(str(tmp_path / "s"))
    log_days(store, 1, 8)
    policy = gc.make_policy({"keep_days": 2, "grace_minutes": 0, "lineage_may_outlive_bytes": True})
    result = gc.collect(store, policy)
    arts = {(a.type, a.span): a for a in store.artifacts()}
    assert arts[("Model", 5)].state == "LIVE" and arts[("ModelEvaluation", 5)].state == "LIVE"
    assert arts[("Examples", 5)].state == "DELETED" and arts[("TransformGraph", 1)].state == "DELETED"
    assert result.bytes_freed > 0 and store.verify() == {}


def test_gc_on_a_memory_fsspec_artifact_root(tmp_path):
    root = f"memory://gc-{uuid.uuid4().hex[:8]}"
    store = Store(StoreLocation(uri=str(tmp_path / "s"), artifact_root=root, directory=tmp_path / "s"))
    log_days(store, 1, 8)
    assert not store.blobs.is_local
    inventory = Inventory(store.blobs)
    before = inventory.object_bytes()
    dry = gc.collect(store, gc.make_policy({"keep_days": 2, "grace_minutes": 0}), dry_run=True)
    result = gc.collect(store, gc.make_policy({"keep_days": 2, "grace_minutes": 0}))
    assert result.bytes_freed == dry.plan.total_bytes > 0
    assert before - inventory.object_bytes() == result.bytes_freed
    assert store.verify() == {}
    gone = [a for a in store.artifacts(state="DELETED") if a.type == "Model"]
    assert gone and not any(store.blobs.exists(a.digest) for a in gone)
    assert not any(store.blobs.fs.exists(f"{inventory.base}/objects/{a.digest[7:]}") for a in gone)


def test_gc_on_every_backend(store):
    log_days(store, 1, 6)
    result = gc.collect(store, gc.make_policy({"keep_days": 2, "grace_minutes": 0}))
    deleted = {(a.type, a.span) for a in store.artifacts(state="DELETED")}
    assert ("Model", 2) in deleted and ("Model", 5) not in deleted and ("Examples", 1) not in deleted
    assert result.bytes_freed > 0 and store.verify() == {}
    raw = store.metadata.raw
    assert {a.id for a in raw.get_artifacts() if a.state == pb.Artifact.DELETED} == {
        a.id for a in store.artifacts(state="DELETED")}


# -- policy and CLI ---------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({}, "set keep_days and/or keep_last"),
    ({"keep_days": 0}, "keep_days must be an integer >= 1"),
    ({"keep_days": 7, "keep_blesed": True}, "unknown key(s) ['keep_blesed']"),
    ({"keep_last": 2, "grace_minutes": -1}, "grace_minutes must be a number >= 0"),
    ({"keep_last": 2, "keep_pushed": "yes"}, "keep_pushed must be true or false"),
])
def test_bad_policies_are_rejected_with_what_to_fix(values, message):
    with pytest.raises(errors.InvalidArgument, match=re.escape(message)):
        gc.make_policy(values)


def test_policy_file_and_flag_overrides(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("keep_days: 7\nkeep_pushed: false\ngrace_minutes: 5\n")
    policy = gc.load_policy(path, {"keep_last": 3, "grace_minutes": None})
    assert (policy.keep_days, policy.keep_last, policy.keep_pushed, policy.grace_ms) == (7, 3, False, 300_000)
    path.write_text("- keep_days\n")
    with pytest.raises(errors.InvalidArgument, match="must hold a mapping"):
        gc.load_policy(path)
    path.write_text("keep_days: [7\n")
    with pytest.raises(errors.InvalidArgument, match="is not valid YAML"):
        gc.load_policy(path)


def test_cli_dry_run_policy_file_pins_and_input_errors(tmp_path):
    uri = str(tmp_path / "s")
    store = mlstore.open(uri)
    log_days(store, 1, 6)
    model_2 = next(a for a in store.artifacts(type="Model") if a.span == 2)
    del store  # one MLMD connection per process (see mlstore_cli)
    done = mlstore_cli("pin", str(model_2.node_id), "--reason", "audit", "--store", uri)
    assert done.returncode == 0 and "pinned artifact:" in done.stdout, done.stderr
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("keep_days: 30\nkeep_blessed: false\ngrace_minutes: 0\n")
    # flags override the file: 2 days instead of 30
    done = mlstore_cli("gc", "--dry-run", "--policy", str(policy_file), "--keep-days", "2", "--store", uri, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["dry_run"] and payload["kept"][str(model_2.node_id)] == "pinned: audit"
    assert payload["policy"]["keep_days"] == 2 and payload["policy"]["keep_blessed"] is False
    assert payload["bytes"] == sum(v["bytes"] for v in payload["reclaim_by_type"].values()) > 0
    done = mlstore_cli("gc", "--keep-days", "2", "--grace-minutes", "0", "--store", uri)
    assert done.returncode == 0, done.stderr
    assert "reclaimed:" in done.stdout and "pinned: audit" in done.stdout and "swept sha256:" in done.stderr
    freed = int(done.stdout.split(" bytes)")[0].rsplit("(", 1)[1])
    assert freed == payload["bytes"]
    done = mlstore_cli("gc", "--store", uri)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "set keep_days and/or keep_last" in done.stderr
    done = mlstore_cli("pin", "artifact:9999", "--store", uri)
    assert done.returncode == 2 and "artifact:9999 does not exist" in done.stderr
