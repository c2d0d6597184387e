"""The live round trip with real TFX 1.16 on one MLMD file (issue 13).

(a) TFX writes a daily run on top of a copy of the real-TFX fixture (three earlier runs)
    -> mlstore reads the store (pipeline, models, latest blessed) without changing any of
    TFX's types;
(b) mlstore writes a model and its blessing into that store through the SDK -> a TFX
    ``--mode push`` run (latest-blessed Resolver -> Pusher) pushes exactly mlstore's
    model;
(c) a full TFX run on the shared store: its Resolver returns mlstore's model, its
    Evaluator compares against it (baseline recorded in the blessing, baseline metrics
    in TFMA's output) and mlstore then sees the outcome.

TFX runs in its own venv (``$MLSTORE_TFX_VENV``, built by ``.ci/tfx_venv.sh``) through
``tests/tfx/flights_tfx_pipeline.py``. Every step checks TFX's exit status AND what TFX
recorded in MLMD (read here with ml_metadata, independently of mlstore): LocalDagRunner
can exit 0 after a Resolver failed. The three tests share one store and run in order;
four TFX runs (two daily, two push-only), about 5 minutes on an idle 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from tests import tfma_records

pytestmark = [pytest.mark.tfx, pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "tfx" / "flights_tfx_pipeline.py"
LOCK = ROOT / "tests" / "tfx" / "requirements-tfx.lock"
VENV = Path(os.environ.get("MLSTORE_TFX_VENV", Path.home() / ".cache" / "mlstore" / "tfx-1.16.0-venv"))
PIPELINE = "flights_tfx"
RESOLVER = "tfx.dsl.components.common.resolver.Resolver"
EVALUATOR = "tfx.components.evaluator.component.Evaluator"
PUSHER = "tfx.components.pusher.component.Pusher"
TRAINER = "tfx.components.trainer.component.Trainer"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def tfx_python() -> Path:
    """The TFX venv's python; a failure under CI=true when the venv is missing or stale."""
    import hashlib

    python = VENV / "bin" / "python"
    marker = VENV / ".mlstore-tfx-lock-sha256"
    # what .ci/tfx_venv.sh writes: the lock and the build tools it installs beside it
    want = hashlib.sha256(LOCK.read_bytes() + LOCK.with_name("requirements-build.txt").read_bytes()).hexdigest()
    problem = None
    if not python.exists():
        problem = f"no TFX venv at {VENV}"
    elif not marker.exists() or marker.read_text().strip() != want:
        problem = f"the TFX venv at {VENV} was not built from {LOCK.name}"
    if problem:
        problem += " (build it: .ci/tfx_venv.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem + "; CI=true: the live TFX tests must run")
        pytest.skip(problem)
    return python


def run_tfx(python: Path, out: Path, *args: str) -> dict:
    """Runs the TFX pipeline; asserts exit status 0 and returns its JSON summary line."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(python), str(SCRIPT), "--out", str(out), *args], capture_output=True,
                          text=True, timeout=900, env=env, cwd=out)
    assert proc.returncode == 0, f"TFX run {args} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    return summary


def mlmd(db: Path) -> metadata_store.MetadataStore:
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(db)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def type_snapshot(db: Path) -> dict[tuple[int, str], dict[str, int]]:
    """{(type kind, type name): {property: data type}} straight from MLMD's tables."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out: dict[tuple[int, str], dict[str, int]] = {}
        for kind, name in con.execute("SELECT type_kind, name FROM Type"):
            out[(kind, name)] = {}
        for kind, name, prop, data_type in con.execute(
                "SELECT t.type_kind, t.name, p.name, p.data_type FROM TypeProperty p JOIN Type t ON t.id = p.type_id"):
            out[(kind, name)][prop] = data_type
        return out
    finally:
        con.close()


def assert_types_unchanged(before: dict, after: dict) -> None:
    """Every type that existed keeps exactly its properties (new types may appear)."""
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, f"types of the shared store changed: {changed}"


def custom(artifact, key):
    value = artifact.custom_properties[key]
    return getattr(value, value.WhichOneof("value"))


def newest_execution(store, type_name: str):
    return max(store.get_executions_by_type(type_name), key=lambda e: e.id)


def events_by_key(store, execution, kind) -> dict[str, int]:
    return {e.path.steps[0].key: e.artifact_id
            for e in store.get_events_by_execution_ids([execution.id]) if e.type == kind}


def latest_blessed_by_tfx_rule(store) -> int | None:
    """LatestBlessedModelStrategy's answer: the highest-id LIVE Model with a blessed==1 blessing."""
    blessed = {custom(b, "current_model_id") for b in store.get_artifacts_by_type("ModelBlessing")
               if "blessed" in b.custom_properties and custom(b, "blessed") == 1}
    ids = [m.id for m in store.get_artifacts_by_type("Model") if m.id in blessed and m.state == pb.Artifact.LIVE]
    return max(ids) if ids else None


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tfx_python) -> dict:
    """The store (a)-(c) share: a copy of the real-TFX fixture (3 runs) plus one live TFX
    daily run (span 10) written now, by the TFX venv, on top of it."""
    from tests.tfx_fixture import copy_tfx_fixture

    out = copy_tfx_fixture(tmp_path_factory.mktemp("tfx_live"))
    run_tfx(tfx_python, out, "--span", "10")
    return {"out": out, "db": out / "metadata.sqlite", "tfx_types": type_snapshot(out / "metadata.sqlite")}


# --------------------------------------------------------------------------- control


def write_tfx_native_model(db: Path, model_dir: Path, pipeline: str = PIPELINE) -> tuple[int, int]:
    """Records ``model_dir`` as a blessed Model the way RECORDS.md says TFX reads one.

    Raw ml_metadata, no mlstore: TFX's own ``Model``/``ModelBlessing`` types, custom
    properties ``tfx_version``, ``blessed``, ``current_model_id``, the SavedModel under
    ``<uri>/Format-Serving``, both artifacts OUTPUTs of executions associated with the
    ``pipeline`` context.
    """
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(db)
    store = metadata_store.MetadataStore(config)
    context = store.get_context_by_type_and_name("pipeline", pipeline)
    exec_type = store.put_execution_type(pb.ExecutionType(name="external.ModelWriter"))
    uri = db.parent / "external" / uuid.uuid4().hex
    shutil.copytree(model_dir, uri / "Format-Serving")
    model = pb.Artifact(type_id=store.get_artifact_type("Model").id, uri=str(uri), state=pb.Artifact.LIVE)
    model.custom_properties["tfx_version"].string_value = "1.16.0"
    out = pb.Event(type=pb.Event.OUTPUT)
    out.path.steps.add().key = "model"
    out.path.steps.add().index = 0
    _, (model_id,), _ = store.put_execution(
        pb.Execution(type_id=exec_type, last_known_state=pb.Execution.COMPLETE), [(model, out)], [context])
    blessing_uri = db.parent / "external" / uuid.uuid4().hex
    blessing_uri.mkdir(parents=True)
    (blessing_uri / "BLESSED").write_text("")
    blessing = pb.Artifact(type_id=store.get_artifact_type("ModelBlessing").id, uri=str(blessing_uri),
                           state=pb.Artifact.LIVE)
    blessing.custom_properties["blessed"].int_value = 1
    blessing.custom_properties["current_model_id"].int_value = model_id
    out_b = pb.Event(type=pb.Event.OUTPUT)
    out_b.path.steps.add().key = "blessing"
    out_b.path.steps.add().index = 0
    _, (blessing_id,), _ = store.put_execution(
        pb.Execution(type_id=exec_type, last_known_state=pb.Execution.COMPLETE), [(blessing, out_b)], [context])
    return model_id, blessing_id


def test_control_tfx_pushes_a_model_recorded_as_records_md_says(tfx_store, tfx_python, tmp_path):
    """Without mlstore: a Model/ModelBlessing written with raw ml_metadata exactly as
    RECORDS.md section 8 prescribes is what TFX's Resolver + Pusher pick and push. Tells a
    broken harness (this fails) from mlstore's writes not being TFX-native ((b) fails)."""
    db = tfx_store
    raw = mlmd(db)
    newest_tfx = max(raw.get_artifacts_by_type("Model"), key=lambda m: m.id)
    model_dir = tmp_path / "model"
    shutil.copytree(Path(newest_tfx.uri) / "Format-Serving", model_dir)
    marker = uuid.uuid4().hex
    (model_dir / "assets" / "control_marker.txt").write_text(marker)
    types_before = type_snapshot(db)
    model_id, blessing_id = write_tfx_native_model(db, model_dir)
    assert_types_unchanged(types_before, type_snapshot(db))

    run_tfx(tfx_python, db.parent, "--mode", "push")

    raw = mlmd(db)
    pusher = newest_execution(raw, PUSHER)
    assert events_by_key(raw, pusher, pb.Event.INPUT) == {"model": model_id, "model_blessing": blessing_id}
    (pushed,) = raw.get_artifacts_by_id([events_by_key(raw, pusher, pb.Event.OUTPUT)["pushed_model"]])
    assert custom(pushed, "pushed") == 1
    destination = Path(custom(pushed, "pushed_destination"))
    assert tree(destination) == tree(model_dir)
    assert (destination / "assets" / "control_marker.txt").read_text() == marker


# --------------------------------------------------------------------------- (a)


def test_a_mlstore_reads_the_tfx_store(shared):
    import mlstore

    db = shared["db"]
    raw = mlmd(db)
    tfx_models = sorted(m.id for m in raw.get_artifacts_by_type("Model"))
    assert len(tfx_models) == 4  # the fixture's 3 and the live run's
    expected = latest_blessed_by_tfx_rule(raw)
    assert expected is not None, "neither TFX run was blessed: the test setup is broken"

    store = mlstore.open(str(db))
    try:
        assert PIPELINE in store.pipelines()
        assert sorted(m.id for m in store.artifacts(type="Model", pipeline=PIPELINE)) == tfx_models
        latest = store.latest_blessed(PIPELINE)
        assert latest is not None and latest.id == expected
        assert latest.type == "Model"
    finally:
        store.close()
    assert_types_unchanged(shared["tfx_types"], type_snapshot(db))


# --------------------------------------------------------------------------- (b)


def test_b_tfx_pushes_the_model_mlstore_wrote(shared, tfx_python, tmp_path):
    import mlstore

    db, out = shared["db"], shared["out"]
    raw = mlmd(db)
    tfx_model = max(raw.get_artifacts_by_type("Model"), key=lambda m: m.id)
    examples = max((a for a in raw.get_artifacts_by_type("Examples") if "/CsvExampleGen/" in a.uri),
                   key=lambda a: a.id)
    # mlstore's model: a real serving SavedModel (TFX's latest, so TFX's Evaluator can load
    # it in (c)) made distinct by an extra asset, so the pushed bytes identify it.
    model_dir = tmp_path / "mlstore_model"
    shutil.copytree(Path(tfx_model.uri) / "Format-Serving", model_dir)
    marker = uuid.uuid4().hex
    (model_dir / "assets" / "mlstore_marker.txt").write_text(marker)
    blessing_dir = tmp_path / "mlstore_blessing"
    blessing_dir.mkdir()
    (blessing_dir / "BLESSED").write_text("")

    store = mlstore.open(str(db))
    try:
        with mlstore.run(pipeline=PIPELINE, step="Trainer", params={"writer": "mlstore"}, store=store) as train:
            train.use(f"artifact:{examples.id}", role="examples")
            train.log_model(model_dir)
        (model,) = train.outputs
        with mlstore.run(pipeline=PIPELINE, step="Evaluator", store=store) as evaluate:
            evaluate.use(model, role="model")
            evaluate.log_artifact(blessing_dir, "ModelBlessing", role="blessing",
                                  properties={"blessed": 1, "current_model_id": model.id})
        (blessing,) = evaluate.outputs
    finally:
        store.close()
    assert_types_unchanged(shared["tfx_types"], type_snapshot(db))
    raw = mlmd(db)
    assert latest_blessed_by_tfx_rule(raw) == model.id, "mlstore's blessing is not what TFX's rule reads"

    run_tfx(tfx_python, out, "--mode", "push")

    raw = mlmd(db)
    resolver = newest_execution(raw, RESOLVER)
    assert events_by_key(raw, resolver, pb.Event.INTERNAL_OUTPUT) == {"model": model.id, "model_blessing": blessing.id}
    pusher = newest_execution(raw, PUSHER)
    assert pusher.last_known_state == pb.Execution.COMPLETE
    assert events_by_key(raw, pusher, pb.Event.INPUT) == {"model": model.id, "model_blessing": blessing.id}
    (pushed,) = raw.get_artifacts_by_id([events_by_key(raw, pusher, pb.Event.OUTPUT)["pushed_model"]])
    assert custom(pushed, "pushed") == 1
    destination = Path(custom(pushed, "pushed_destination"))
    assert tree(destination) == tree(model_dir), "TFX did not push exactly mlstore's model bytes"
    assert (destination / "assets" / "mlstore_marker.txt").read_text() == marker
    shared.update(mlstore_model=model.id, mlstore_blessing=blessing.id, tfx_model=tfx_model.id)


# --------------------------------------------------------------------------- (c)


def test_c_tfx_runs_again_on_the_shared_store(shared, tfx_python):
    import mlstore

    if "mlstore_model" not in shared:
        pytest.fail("test (b) did not complete: no mlstore-written model to compare against")
    db, out = shared["db"], shared["out"]
    mlstore_model, mlstore_blessing = shared["mlstore_model"], shared["mlstore_blessing"]

    run_tfx(tfx_python, out, "--span", "12")

    raw = mlmd(db)
    resolver = newest_execution(raw, RESOLVER)
    assert events_by_key(raw, resolver, pb.Event.INTERNAL_OUTPUT) == {
        "model": mlstore_model, "model_blessing": mlstore_blessing}
    trainer = newest_execution(raw, TRAINER)
    assert trainer.last_known_state == pb.Execution.COMPLETE
    new_model = events_by_key(raw, trainer, pb.Event.OUTPUT)["model"]
    evaluator = newest_execution(raw, EVALUATOR)
    assert evaluator.last_known_state == pb.Execution.COMPLETE
    inputs = events_by_key(raw, evaluator, pb.Event.INPUT)
    assert set(inputs) == {"examples", "model", "baseline_model"}
    assert inputs["model"] == new_model and inputs["baseline_model"] == mlstore_model
    outputs = events_by_key(raw, evaluator, pb.Event.OUTPUT)
    (blessing,) = raw.get_artifacts_by_id([outputs["blessing"]])
    assert custom(blessing, "current_model_id") == new_model
    assert custom(blessing, "baseline_model_id") == mlstore_model
    blessed = custom(blessing, "blessed")
    assert blessed in (0, 1)
    assert sorted(p.name for p in Path(blessing.uri).iterdir()) == ["BLESSED" if blessed else "NOT_BLESSED"]
    (evaluation,) = raw.get_artifacts_by_id([outputs["evaluation"]])
    overall = tfma_records.metrics(Path(evaluation.uri) / "metrics-00000-of-00001.tfrecord")["Overall"]
    baseline_accuracy = tfma_records.MetricKey("binary_accuracy", "baseline", False, False)
    assert 0.0 < overall[baseline_accuracy] <= 1.0, "the Evaluator did not evaluate the baseline"
    ok, _ = tfma_records.validation(Path(evaluation.uri) / "validations.tfrecord")
    assert ok == bool(blessed)
    pusher = newest_execution(raw, PUSHER)
    (pushed,) = raw.get_artifacts_by_id([events_by_key(raw, pusher, pb.Event.OUTPUT)["pushed_model"]])
    assert custom(pushed, "pushed") == blessed
    assert_types_unchanged(shared["tfx_types"], type_snapshot(db))

    store = mlstore.open(str(db))
    try:
        latest = store.latest_blessed(PIPELINE)
        assert latest is not None and latest.id == (new_model if blessed else mlstore_model)
        assert latest.id == latest_blessed_by_tfx_rule(raw)
        # TFMA's plots of this run (ConfusionMatrixPlot, CalibrationPlot) as mlstore reads them
        from mlstore.tfx.tfma import read_plots  # noqa: PLC0415

        plots = read_plots(store.local_path(f"artifact:{evaluation.id}"))["Overall"]
        roc, pr, calibration = plots["roc"], plots["pr"], plots["calibration"]
        assert len(roc["fpr"]) == len(roc["tpr"]) > 10 and roc["fpr"] == sorted(roc["fpr"])
        assert all(0.0 <= x <= 1.0 for x in roc["fpr"] + roc["tpr"] + pr["recall"] + pr["precision"])
        assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
        assert len(calibration["bin_edges"]) == len(calibration["weighted_count"]) + 1
        assert sum(calibration["weighted_count"]) > 0
        assert all(v is None or 0.0 <= v <= 1.0 for v in calibration["mean_label"])
    finally:
        store.close()
