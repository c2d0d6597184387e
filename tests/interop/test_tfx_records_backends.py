"""TFX-shaped records written by another MLMD client, on SQLite, PostgreSQL and MariaDB.

What TFX writes (tests/tfx/RECORDS.md), put with the plain MLMD API: a class-path
execution type, the pipeline only as a context, span as a type property of Examples
and none on the Model, TFX's custom properties. mlstore must index it right, and
writing its own records into the same database must leave every existing type as it was.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2 as pb

import mlstore

TRAINER = "tfx.components.trainer.component.Trainer"


def _event(kind: int, key: str, artifact_id: int | None = None) -> pb.Event:
    event = pb.Event(type=kind, artifact_id=artifact_id)
    event.path.steps.add().key = key
    event.path.steps.add().index = 0
    return event


def _write_tfx_trainer_run(store, pipeline: str) -> tuple[int, int]:
    raw = store.metadata.raw
    examples_type = raw.put_artifact_type(pb.ArtifactType(
        name="Examples", properties={"span": pb.INT, "version": pb.INT, "split_names": pb.STRING}))
    model_type = raw.put_artifact_type(pb.ArtifactType(name="Model"))
    trainer_type = raw.put_execution_type(pb.ExecutionType(name=TRAINER))
    context_type = raw.put_context_type(pb.ContextType(name="pipeline"))
    examples = pb.Artifact(type_id=examples_type, uri="/tfx/CsvExampleGen/examples/1", state=pb.Artifact.LIVE)
    examples.properties["span"].int_value = 20130105
    examples.properties["split_names"].string_value = '["train", "eval"]'
    [examples_id] = raw.put_artifacts([examples])
    model = pb.Artifact(type_id=model_type, uri="/tfx/Trainer/model/2", state=pb.Artifact.LIVE)
    model.custom_properties["tfx_version"].string_value = "1.16.0"
    model.custom_properties["is_external"].int_value = 0
    execution = pb.Execution(type_id=trainer_type, last_known_state=pb.Execution.COMPLETE)
    execution.custom_properties["train_args"].string_value = '{"num_steps": 60}'
    context = pb.Context(type_id=context_type, name=pipeline)
    execution_id, (_, model_id), _ = raw.put_execution(
        execution, [(pb.Artifact(id=examples_id, type_id=examples_type, uri=examples.uri, state=pb.Artifact.LIVE,
                                 properties=examples.properties), _event(pb.Event.INPUT, "examples")),
                    (model, _event(pb.Event.OUTPUT, "model"))],
        [context], reuse_context_if_already_exist=True)
    return execution_id, model_id


def _types(store) -> dict[str, dict[str, int]]:
    raw = store.metadata.raw
    return {t.name: dict(t.properties) for t in raw.get_artifact_types()}


def test_another_writers_tfx_records_are_indexed_with_their_semantics(store, unique_name):
    pipeline = f"tfx-{unique_name}"
    execution_id, model_id = _write_tfx_trainer_run(store, pipeline)
    assert store.catch_up() >= 1
    trainer = store.execution(execution_id)
    assert (trainer.type, trainer.pipeline, trainer.properties["mlmd_type"]) == ("Trainer", pipeline, TRAINER)
    model = store.artifact(model_id)
    assert (model.pipeline, model.span, model.properties["tfx_version"]) == (pipeline, 20130105, "1.16.0")
    assert pipeline in store.pipelines()
    assert [a.id for a in store.artifacts(type="Model", pipeline=pipeline)] == [model_id]


def test_writing_into_a_shared_database_changes_no_existing_type(store, unique_name, tmp_path):
    raw = store.metadata.raw
    # Another writer's ModelBlessing type with a property of its own.
    raw.put_artifact_type(pb.ArtifactType(name="ModelBlessing", properties={"reviewer": pb.STRING}))
    _write_tfx_trainer_run(store, f"tfx-{unique_name}")
    before = _types(store)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "saved_model.pb").write_bytes(b"bytes")
    with mlstore.run(f"ml-{unique_name}", "Trainer", store=store) as run:
        run.log_model(model_dir)
    blessing_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    (blessing_dir / "BLESSED").write_text("")
    with mlstore.run(f"ml-{unique_name}", "Gate", store=store) as gate:
        gate.use(run.outputs[0], role="model")
        gate.log_artifact(blessing_dir, "ModelBlessing", "blessing",
                          {"blessed": 1, "current_model_id": run.outputs[0].id})
    after = _types(store)
    assert {name: after[name] for name in before} == before  # no existing type gained or lost a property
    assert after["Model"] == {} and after["ModelBlessing"] == {"reviewer": pb.STRING}
    [blessing] = raw.get_artifacts_by_id([gate.outputs[0].id])
    assert blessing.custom_properties["blessed"].int_value == 1  # where TFX reads it
    assert blessing.custom_properties["current_model_id"].int_value == run.outputs[0].id
    assert store.latest_blessed(f"ml-{unique_name}").id == run.outputs[0].id
