"""Pins what real TFX 1.16 wrote into the committed fixture (tests/tfx/RECORDS.md).

Reads with ml_metadata, the standard library and TensorFlow only (what mlstore's venv
has). If TFX's records change (a new fixture) and a fact of RECORDS.md no longer holds,
a test here fails and RECORDS.md must be corrected with it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from tests import protowire, tfma_records
from tests.tfx_fixture import FIXTURE, PIPELINE, copy_tfx_fixture, fixture_origin

Event = pb.Event
INT, STRING = pb.PropertyType.INT, pb.PropertyType.STRING
RESOLVER = "tfx.dsl.components.common.resolver.Resolver"
EVALUATOR = "tfx.components.evaluator.component.Evaluator"
TRAINER = "tfx.components.trainer.component.Trainer"
PUSHER = "tfx.components.pusher.component.Pusher"

ARTIFACT_TYPES = {
    "Examples": ({"span": INT, "split_names": STRING, "version": INT}, pb.ArtifactType.DATASET),
    "ExampleStatistics": ({"span": INT, "split_names": STRING}, pb.ArtifactType.STATISTICS),
    "Schema": ({}, pb.ArtifactType.UNSET),
    "ExampleAnomalies": ({"span": INT, "split_names": STRING}, pb.ArtifactType.UNSET),
    "TransformCache": ({}, pb.ArtifactType.UNSET),
    "TransformGraph": ({}, pb.ArtifactType.UNSET),
    "Model": ({}, pb.ArtifactType.MODEL),
    "ModelRun": ({}, pb.ArtifactType.UNSET),
    "ModelEvaluation": ({}, pb.ArtifactType.UNSET),
    "ModelBlessing": ({}, pb.ArtifactType.UNSET),
    "PushedModel": ({}, pb.ArtifactType.MODEL),
}
EXECUTION_TYPES = {
    "tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
    "tfx.components.statistics_gen.component.StatisticsGen",
    "tfx.components.schema_gen.component.SchemaGen",
    "tfx.components.transform.component.Transform",
    TRAINER, RESOLVER, EVALUATOR, PUSHER,
}
NODES = ("CsvExampleGen", "StatisticsGen", "SchemaGen", "Transform", "Trainer",
         "latest_blessed_model_resolver", "Evaluator", "Pusher")


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    return copy_tfx_fixture(tmp_path_factory.mktemp("tfx"))


@pytest.fixture(scope="module")
def mlmd(copy):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(copy / "metadata.sqlite")
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def by_type(mlmd, name):
    return sorted(mlmd.get_artifacts_by_type(name), key=lambda a: a.id)


def custom(artifact, key):
    value = artifact.custom_properties[key]
    return getattr(value, value.WhichOneof("value"))


def runs(mlmd):
    """The three pipeline_run contexts, oldest first, each with its executions by type name."""
    type_names = {t.id: t.name for t in mlmd.get_execution_types()}
    out = []
    for ctx in sorted(mlmd.get_contexts_by_type("pipeline_run"), key=lambda c: c.id):
        execs = {type_names[e.type_id]: e for e in mlmd.get_executions_by_context(ctx.id)}
        out.append((ctx, execs))
    return out


def events_of(mlmd, execution):
    return mlmd.get_events_by_execution_ids([execution.id])


def test_schema_version_is_10(copy):
    con = sqlite3.connect(copy / "metadata.sqlite")
    assert con.execute("SELECT schema_version FROM MLMDEnv").fetchall() == [(10,)]
    con.close()


def test_artifact_types_exactly_as_tfx_registers_them(mlmd):
    got = {t.name: (dict(t.properties), t.base_type) for t in mlmd.get_artifact_types()}
    assert got == ARTIFACT_TYPES


def test_execution_and_context_types(mlmd):
    execution_types = mlmd.get_execution_types()
    assert {t.name for t in execution_types} == EXECUTION_TYPES
    assert all(not t.properties for t in execution_types)
    context_types = mlmd.get_context_types()
    assert {t.name for t in context_types} == {"pipeline", "pipeline_run", "node", "execution_cache"}
    assert all(not t.properties for t in context_types)


def test_contexts_pipeline_runs_nodes(mlmd):
    (pipeline,) = mlmd.get_contexts_by_type("pipeline")
    assert pipeline.name == PIPELINE
    assert len(mlmd.get_executions_by_context(pipeline.id)) == 24
    assert len(mlmd.get_artifacts_by_context(pipeline.id)) == 48
    nodes = {c.name for c in mlmd.get_contexts_by_type("node")}
    assert nodes == {f"{PIPELINE}.{n}" for n in NODES}
    the_runs = runs(mlmd)
    assert len(the_runs) == 3
    for ctx, execs in the_runs:
        assert set(execs) == EXECUTION_TYPES and len(execs) == 8
        assert [p.id for p in mlmd.get_parent_contexts_by_context(ctx.id)] == [pipeline.id]
        assert not ctx.properties and not ctx.custom_properties
        # Every execution: pipeline, pipeline_run, node, and (not the Resolver) execution_cache.
        context_type = {t.id: t.name for t in mlmd.get_context_types()}
        for type_name, e in execs.items():
            names = sorted(context_type[c.type_id] for c in mlmd.get_contexts_by_execution(e.id))
            want = ["node", "pipeline", "pipeline_run"] + ([] if type_name == RESOLVER else ["execution_cache"])
            assert names == sorted(want), type_name


def test_examples_span_is_a_custom_property(mlmd):
    gen = [a for a in by_type(mlmd, "Examples") if "/CsvExampleGen/" in a.uri]
    assert [custom(a, "span") for a in gen] == [1, 2, 3]
    for a in gen:
        assert "span" not in a.properties and "version" not in a.properties
        assert json.loads(a.properties["split_names"].string_value) == ["train", "eval"]
        assert custom(a, "file_format") == "tfrecords_gzip"
        assert custom(a, "payload_format") == "FORMAT_TF_EXAMPLE"


def test_every_artifact_has_tfx_version_and_is_live(mlmd):
    artifacts = mlmd.get_artifacts()
    assert len(artifacts) == 48
    for a in artifacts:
        assert a.state == pb.Artifact.LIVE and a.name == ""
        assert custom(a, "tfx_version") == "1.16.0" and custom(a, "is_external") == 0


def test_statistics_carry_a_struct_custom_property(mlmd):
    stats = [a for a in by_type(mlmd, "ExampleStatistics") if "/StatisticsGen/" in a.uri]
    assert len(stats) == 3
    for a in stats:
        value = a.custom_properties["sample_rate_by_split"]
        assert value.WhichOneof("value") == "struct_value"
        assert json.loads(value.struct_value.fields["__value__"].string_value) == {"train": 1.0, "eval": 1.0}
        assert a.properties["span"].int_value == 0
        for split in ("train", "eval"):
            stats_file = Path(a.uri) / f"Split-{split}" / "FeatureStats.pb"
            (dataset,) = protowire.fields(stats_file.read_bytes())[1]
            features = protowire.fields(dataset)
            assert features[2][0] > 10  # num_examples
            names = {protowire.text(protowire.fields(protowire.fields(f)[8][0])[1][0]) for f in features[3]}
            assert names == {"carrier", "origin", "hour", "distance", "dep_delay", "late"}


def test_models_blessings_and_pushes(mlmd):
    models = by_type(mlmd, "Model")
    assert len(models) == 3
    for m in models:
        assert set(m.custom_properties) == {"tfx_version", "is_external"} and not m.properties
        assert (Path(m.uri) / "Format-Serving" / "saved_model.pb").is_file()
        assert sorted(p.name for p in Path(m.uri).iterdir()) == ["Format-Serving"]
    blessings = by_type(mlmd, "ModelBlessing")
    assert [custom(b, "blessed") for b in blessings] == [1, 1, 0]
    assert [custom(b, "current_model_id") for b in blessings] == [m.id for m in models]
    assert [custom(b, "current_model") for b in blessings] == [m.uri for m in models]
    assert "baseline_model_id" not in blessings[0].custom_properties
    assert [custom(b, "baseline_model_id") for b in blessings[1:]] == [models[0].id, models[1].id]
    assert [custom(b, "baseline_model") for b in blessings[1:]] == [models[0].uri, models[1].uri]
    assert [sorted(p.name for p in Path(b.uri).iterdir()) for b in blessings] == [
        ["BLESSED"], ["BLESSED"], ["NOT_BLESSED"]]
    pushed = by_type(mlmd, "PushedModel")
    assert [custom(p, "pushed") for p in pushed] == [1, 1, 0]
    for p, m in zip(pushed[:2], models[:2]):
        destination = Path(custom(p, "pushed_destination"))
        assert destination.name == custom(p, "pushed_version") and destination.is_dir()
        source = (Path(m.uri) / "Format-Serving" / "saved_model.pb").read_bytes()
        assert (destination / "saved_model.pb").read_bytes() == source
        assert (Path(p.uri) / "saved_model.pb").read_bytes() == source
    assert "pushed_destination" not in pushed[2].custom_properties
    assert list(Path(pushed[2].uri).iterdir()) == []


def test_event_types_and_the_resolvers_internal_outputs(mlmd):
    all_events = mlmd.get_events_by_execution_ids([e.id for e in mlmd.get_executions()])
    assert {e.type for e in all_events} == {Event.INPUT, Event.OUTPUT, Event.INTERNAL_OUTPUT}
    for e in all_events:
        assert e.milliseconds_since_epoch > 0
        assert [s.WhichOneof("value") for s in e.path.steps] == ["key", "index"]
    models = by_type(mlmd, "Model")
    blessings = by_type(mlmd, "ModelBlessing")
    for i, (ctx, execs) in enumerate(runs(mlmd)):
        resolver = events_of(mlmd, execs[RESOLVER])
        assert all(e.type == Event.INTERNAL_OUTPUT for e in resolver)
        resolved = {e.path.steps[0].key: e.artifact_id for e in resolver}
        evaluator_inputs = {e.path.steps[0].key: e.artifact_id
                            for e in events_of(mlmd, execs[EVALUATOR]) if e.type == Event.INPUT}
        trainer_outputs = {e.path.steps[0].key: e.artifact_id
                           for e in events_of(mlmd, execs[TRAINER]) if e.type == Event.OUTPUT}
        assert trainer_outputs["model"] == models[i].id
        assert evaluator_inputs["model"] == models[i].id
        if i == 0:
            assert resolved == {} and "baseline_model" not in evaluator_inputs
        else:
            # The latest blessed model before this run: run i-1's (runs 1 and 2 were blessed).
            assert resolved == {"model": models[i - 1].id, "model_blessing": blessings[i - 1].id}
            assert evaluator_inputs["baseline_model"] == models[i - 1].id
            attributed = {a.id for a in mlmd.get_artifacts_by_context(ctx.id)}
            assert {models[i - 1].id, blessings[i - 1].id} <= attributed


def test_tfma_evaluation_files(mlmd):
    evaluations = by_type(mlmd, "ModelEvaluation")
    assert len(evaluations) == 3
    for i, evaluation in enumerate(evaluations):
        d = Path(evaluation.uri)
        assert sorted(p.name for p in d.iterdir()) == [
            "attributions-00000-of-00001.tfrecord", "eval_config.json",
            "metrics-00000-of-00001.tfrecord", "plots-00000-of-00001.tfrecord", "validations.tfrecord"]
        metrics = tfma_records.metrics(d / "metrics-00000-of-00001.tfrecord")
        assert "Overall" in metrics and "carrier:AA" in metrics and len(metrics) > 5
        overall = metrics["Overall"]
        model = "" if i == 0 else "candidate"
        assert {k.name for k in overall} == {"example_count", "binary_accuracy", "auc", "loss"}
        # TFMA's metrics: example_weighted False; the Keras compiled metrics: no example_weighted.
        weighted = tfma_records.MetricKey("binary_accuracy", model, False, False)
        keras = tfma_records.MetricKey("binary_accuracy", model, False, None)
        assert 0.5 < overall[weighted] <= 1.0 and abs(overall[weighted] - overall[keras]) < 1e-6
        assert overall[tfma_records.MetricKey("example_count", model, False, False)] > 20
        assert tfma_records.MetricKey("loss", model, False, None) in overall
        models = {k.model_name for k in overall}
        assert models == ({""} if i == 0 else {"candidate", "baseline"})
        if i:
            diff = overall[tfma_records.MetricKey("binary_accuracy", "candidate", True, False)]
            base = overall[tfma_records.MetricKey("binary_accuracy", "baseline", False, False)]
            assert diff == pytest.approx(overall[tfma_records.MetricKey("binary_accuracy", "candidate", False, False)] - base)
        config = json.loads((d / "eval_config.json").read_text())
        assert config["version"] == "0.47.1"
        assert [s.get("featureKeys", []) for s in config["evalConfig"]["slicingSpecs"]] == [[], ["carrier"]]
    oks = [tfma_records.validation(Path(e.uri) / "validations.tfrecord") for e in evaluations]
    assert [ok for ok, _ in oks] == [True, True, False]
    assert oks[2][1] == [("Overall", tfma_records.MetricKey("binary_accuracy", "candidate", True, False))]


def test_tfrecord_reader_agrees_with_tensorflow(mlmd):
    import tensorflow as tf

    evaluation = by_type(mlmd, "ModelEvaluation")[1]
    path = str(Path(evaluation.uri) / "metrics-00000-of-00001.tfrecord")
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == tfma_records.tfrecords(Path(path))


def test_the_serving_model_runs_on_the_eval_split(mlmd):
    """The Format-Serving SavedModel (transform embedded) scores TFX's own eval examples."""
    import tensorflow as tf

    model = by_type(mlmd, "Model")[0]
    examples = [a for a in by_type(mlmd, "Examples") if "/CsvExampleGen/" in a.uri][0]
    split = Path(examples.uri) / "Split-eval" / "data_tfrecord-00000-of-00001.gz"
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(str(split), compression_type="GZIP").take(8)]
    loaded = tf.saved_model.load(str(Path(model.uri) / "Format-Serving"))
    out = loaded.signatures["serving_default"](examples=tf.constant(serialized))
    probabilities = out["late_probability"].numpy()
    assert probabilities.shape == (8, 1) and ((probabilities >= 0) & (probabilities <= 1)).all()


def test_copy_points_every_uri_at_the_copy(copy, mlmd):
    origin = fixture_origin()
    for a in mlmd.get_artifacts():
        assert a.uri.startswith(str(copy) + "/") and Path(a.uri).is_dir(), a.uri
        for v in a.custom_properties.values():
            assert origin + "/" not in (v.string_value or "")
    for e in mlmd.get_executions():
        for v in e.custom_properties.values():
            assert origin + "/" not in (v.string_value or "")
    # The committed fixture itself is untouched.
    con = sqlite3.connect(f"file:{FIXTURE / 'metadata.sqlite'}?mode=ro", uri=True)
    assert all(u.startswith(origin + "/") for (u,) in con.execute("SELECT uri FROM Artifact"))
    con.close()
