"""The main job end to end on a short range: lineage, warm-start chain, pushes, resume,
caching, reruns that verify, and a SIGKILL in the middle of a day."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlstore
import mlstore.hub as hub
from mlstore.blobs import collect_files, manifest_of
from mlstore.hub.cache import digest_of_tree

pytestmark = pytest.mark.slow

TYPES = ("Examples", "TransformGraph", "Model", "ModelEvaluation", "ModelBlessing")
MODULE = "mlstore/flights-carrier-embedding/1"


def cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "mlstore", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def per_span(store, type_):
    spans = {}
    for a in store.artifacts(type=type_, pipeline="flights"):
        roles = {e.role for e in store.events(a.node_id) if e.is_output}
        if type_ == "ModelEvaluation" and roles != {"evaluation"}:
            continue  # the baseline's evaluation on the candidate's data
        spans.setdefault(a.span, []).append(a)
    return spans


@pytest.fixture(scope="module")
def demo_store(flights_demo):
    """The session's demo store (tests/conftest.py); these tests add to it in file order."""
    return flights_demo


def test_demo_records_every_day_with_complete_lineage(demo_store):
    uri, summary = demo_store
    assert summary["days_run"] == 3
    store = mlstore.open(uri)
    for type_ in TYPES:
        assert sorted(per_span(store, type_)) == [20130101, 20130102, 20130103], type_
    models = store.artifacts(type="Model", pipeline="flights")
    graph = store.lineage(models[-1], "up")
    assert {"Examples", "TransformGraph", "Model", "ExampleGen", "Transform", "Trainer"} <= {n.type for n in graph.nodes}
    base_edges = [e for e in graph.edges if e.role == "base_model"]
    blessed_before_last = [b for b in store.blessings(pipeline="flights") if b.blessed and b.model_id != models[-1].id]
    if blessed_before_last:
        assert base_edges, "the newest model should be warm-started from a blessed one"
    trainer = store.execution([n.id for n in graph.nodes if n.type == "Trainer"][-1])
    props = trainer.properties
    for key in ("code_digest", "cache_key", "environment_digest", "params", "seeds", "python_version"):
        assert props.get(key), key
    for pushed in summary["pushed"]:
        assert (Path(pushed) / "saved_model.pb").is_file()
        assert Path(pushed).parent.name == "flights"
    # TF Serving versions 1, 2, ... in push order (mlstore.serving), each PushedModel holding its version's bytes
    assert [Path(p).name for p in summary["pushed"]] == [str(i) for i in range(1, len(summary["pushed"]) + 1)]
    for record in store.artifacts(type="PushedModel", pipeline="flights"):
        destination = Path(record.properties["pushed_destination"])
        assert destination.name == record.properties["pushed_version"]
        assert record.digest == manifest_of(collect_files(destination)).digest
    assert store.verify() == {}


def test_every_daily_model_fine_tunes_the_published_carrier_module(demo_store):
    uri, _ = demo_store
    store = mlstore.open(uri)
    module = hub.show(MODULE, store=store)
    models = store.artifacts(type="Model", pipeline="flights")
    assert [m.id for m in hub.consumers(MODULE, store=store)] == [m.id for m in models]
    cli_consumers = cli("hub", "consumers", MODULE, "--store", uri, "--json")
    assert cli_consumers.returncode == 0, cli_consumers.stderr[-2000:]
    assert [m["id"] for m in json.loads(cli_consumers.stdout)] == [str(m.node_id) for m in models]
    (producer,) = [e.execution_id for e in store.events(models[-1].node_id) if e.is_output]
    graph = store.lineage(models[-1], "up")
    module_inputs = {(str(e.source), str(e.target)) for e in graph.edges
                     if e.role == "module" and e.event_type == "INPUT"}
    assert (module.artifact, f"execution:{producer}") in module_inputs  # module → Trainer → newest model
    assert {source for source, _ in module_inputs} == {module.artifact}
    assert store.execution(module.source_execution).type == "EmbeddingTrainer"  # published from a recorded run
    assert len(store.executions(type="HubPublish")) == 1  # published once
    assert store.blobs.verify(module.digest) == []
    assert digest_of_tree(Path(store.local_path(module.artifact))) == module.digest
    trainer = store.execution(f"execution:{producer}")
    assert trainer.type == "Trainer" and json.loads(trainer.properties["params"])["module_column"] == "carrier"
    layers = json.loads(models[-1].properties["layers"])
    assert "module_carrier" in layers and "embedding_carrier_id" not in layers


def test_second_run_skips_completed_days_and_no_resume_hits_the_cache(demo_store):
    uri, summary = demo_store
    t0 = time.perf_counter()
    again = cli("demo", "--days", 3, "--store", uri, "--json")
    elapsed = time.perf_counter() - t0
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["days_skipped"] == 3
    walk = cli("demo", "--days", 3, "--store", uri, "--json", "--no-resume")
    assert walk.returncode == 0, walk.stderr[-2000:]
    walked = json.loads(walk.stdout)
    # eight steps a day, all reused (the schema, inferred and curated on day 1, is found, not re-inferred)
    assert walked["days_run"] == 3 and walked["cached_steps"] == 24
    store = mlstore.open(uri)
    assert len(store.artifacts(type="Model", pipeline="flights")) == 3  # trained nothing
    assert len(store.executions(type="Trainer", pipeline="flights", state="CACHED")) == 3
    assert len(store.executions(type="EmbeddingTrainer")) == 1 and len(store.executions(type="HubPublish")) == 1
    assert [m.id for m in hub.consumers(MODULE, store=store)] == [
        m.id for m in store.artifacts(type="Model", pipeline="flights")]  # cached days consume it too
    print(f"first run {summary['first_run_seconds']:.1f}s, resumed run {elapsed:.1f}s")


def test_rerun_of_a_training_execution_reproduces(demo_store):
    uri, _ = demo_store
    store = mlstore.open(uri)
    trainer = store.executions(type="Trainer", pipeline="flights", state="COMPLETE")[-1]
    proc = cli("rerun", f"execution:{trainer.id}", "--store", uri, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["reproduced"] and report["outputs"][0]["status"] in ("identical", "semantically identical")
    rerun = mlstore.open(uri).execution(report["rerun"])
    assert rerun.properties["rerun_of"] == trainer.id


def test_rerun_with_an_altered_param_differs_and_names_variables(demo_store):
    uri, _ = demo_store
    store = mlstore.open(uri)
    trainer = store.executions(type="Trainer", pipeline="flights", state="COMPLETE")[0]
    proc = cli("rerun", f"execution:{trainer.id}", "--set", "hyperparams.learning_rate=0.2", "--store", uri, "--json")
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    details = report["outputs"][0]["details"]
    assert report["outputs"][0]["status"] == "differs"
    assert any(d.startswith("variable ") and "max |diff|" in d for d in details), details
    bad = cli("rerun", f"execution:{trainer.id}", "--set", "hyperparams.nope=1", "--store", uri)
    assert bad.returncode == 2 and "no parameter" in bad.stderr


def test_sigkill_mid_day_then_resume_records_each_day_once(tmp_path):
    uri = str(tmp_path / "store")
    proc = subprocess.Popen([sys.executable, "-m", "mlstore", "demo", "--days", "2", "--store", uri, "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:  # kill once day 2 is under way (its Transform is recorded)
            time.sleep(0.5)
            if (Path(uri) / "index.sqlite").exists():
                store = mlstore.open(uri)
                done = [e for e in store.executions(type="Transform") if e.properties.get("span") == 20130102]
                store.close()
                if done:
                    break
        assert proc.poll() is None, "demo ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    resumed = cli("demo", "--days", 2, "--store", uri, "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    store = mlstore.open(uri)
    for type_ in TYPES:
        spans = per_span(store, type_)
        assert sorted(spans) == [20130101, 20130102], type_
        assert all(len(v) == 1 for v in spans.values()), (type_, spans)
    assert all(e.state in ("COMPLETE", "CACHED") for e in store.executions(pipeline="flights"))
    assert store.verify() == {}
