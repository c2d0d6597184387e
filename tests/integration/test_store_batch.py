"""Store.log_executions / Store.batch: a day of a pipeline in one transaction, on every backend."""

import json

import pytest
from sqlalchemy import func, select

from mlstore import errors
from mlstore.index import tables as t
from mlstore.store import ExecutionRecord, OutputArtifact, PendingOutput


def _output(store, tmp_path, name, type_, role, **props):
    path = tmp_path / name
    path.write_text(name)
    blob = store.blobs.publish(path)
    return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)


def _log_day(store, tmp_path, day, base_model=None):
    out = lambda type_, role, **props: _output(store, tmp_path, f"{type_}{day}", type_, role, **props)  # noqa: E731
    with store.batch("daily", run_id=f"day{day}") as batch:
        gen = batch.log_execution("ExampleGen", outputs=[out("Examples", "examples", span=day)])
        examples = gen.outputs[0]
        transform = batch.log_execution("Transform", inputs=[(examples, "examples")],
                                        outputs=[out("TransformGraph", "transform_graph")])
        inputs = [(examples, "examples"), (transform.outputs[0], "transform_graph")]
        trainer = batch.log_execution("Trainer", inputs=inputs + ([(base_model, "base_model")] if base_model else []),
                                      outputs=[out("Model", "model")], properties={"params": {"epochs": 1}})
        metrics = {"Overall": {"auc_roc": 0.5 + day / 100}}
        batch.log_execution("Evaluator", inputs=[(trainer.outputs[0], "model")],
                            outputs=[out("ModelEvaluation", "evaluation", metrics=json.dumps(metrics))])
        with pytest.raises(errors.FailedPrecondition, match="not been written"):
            trainer.execution_id  # noqa: B018 - ids exist only after the block
    return gen, trainer


def test_a_day_in_one_batch_matches_step_by_step_logging(store, tmp_path):
    gen1, trainer1 = _log_day(store, tmp_path, 1)
    gen2, trainer2 = _log_day(store, tmp_path, 2, base_model=trainer1.output_ids[0])
    model = store.artifact(trainer2.output_ids[0])
    assert model.type == "Model" and model.properties["span"] == 2  # inherited from the pending Examples
    assert store.execution(trainer2.execution_id).properties["run_id"] == "day2"
    graph = store.lineage(model, "up")
    assert sorted(n.type for n in graph.nodes) == ["ExampleGen", "ExampleGen", "Examples", "Examples", "Model",
                                                  "Model", "Trainer", "Trainer", "Transform", "Transform",
                                                  "TransformGraph", "TransformGraph"]
    assert {e.role for e in graph.edges} == {"examples", "transform_graph", "base_model", "model"}
    assert [round(p.value, 2) for p in store.metric_series("daily", "auc_roc", "Overall")] == [0.51, 0.52]
    contexts = store.metadata.raw.get_contexts_by_execution(trainer2.execution_id)
    assert sorted(c.name for c in contexts) == ["daily", "daily/day2"]
    run = next(c for c in contexts if c.name == "daily/day2")
    assert len(store.metadata.raw.get_executions_by_context(run.id)) == 4
    assert len(store.metadata.raw.get_artifacts_by_context(run.id)) == 4
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0
        assert c.scalar(select(func.count()).select_from(t.execution)) == 8


def test_a_bad_batch_writes_nothing(store, tmp_path):
    examples = _output(store, tmp_path, "e", "Examples", "examples", span=1)
    with pytest.raises(errors.NotFound, match="artifact:999999"):
        with store.batch("daily") as batch:
            gen = batch.log_execution("ExampleGen", outputs=[examples])
            batch.log_execution("Transform", inputs=[(gen.outputs[0], "examples"), (999999, "base")])
    with pytest.raises(RuntimeError, match="user code"):
        with store.batch("daily") as batch:
            batch.log_execution("ExampleGen", outputs=[examples])
            raise RuntimeError("user code failed")
    with store.batch("daily") as batch:
        with pytest.raises(errors.InvalidArgument, match="not an output of an earlier execution"):
            batch.log_execution("Transform", inputs=[(PendingOutput(0, 0), "examples")])
        with pytest.raises(errors.InvalidArgument, match="not an output of an earlier execution"):
            batch.log_execution("Transform", inputs=[(PendingOutput(-1, 0), "examples")])
        with pytest.raises(errors.InvalidArgument, match="step name"):
            batch.log_execution("no spaces allowed")
    with pytest.raises(errors.InvalidArgument, match="not an output of an earlier execution"):
        store.log_executions("daily", [ExecutionRecord("Transform", inputs=[(PendingOutput(0, 0), "examples")])])
    unpublished = OutputArtifact("Model", "file:///nowhere", "sha256:" + "0" * 64, 1, "model")
    with pytest.raises(errors.NotFound, match="publish it first"):
        store.log_executions("daily", [ExecutionRecord("ExampleGen", outputs=[examples]),
                                       ExecutionRecord("Trainer", outputs=[unpublished])])
    assert store.executions() == [] and store.artifacts() == []
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0
