"""SDK handles outlive their run; wrong argument types are typed errors, never
AttributeError/TypeError."""

from __future__ import annotations

import pytest

import mlstore
from mlstore import errors

WRONG = (None, 1.5, [], {}, b"artifact:1", True, object())


@pytest.fixture
def recorded(sqlite_store, tmp_path):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "rows.txt").write_text("rows")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"pb")
    with mlstore.run("p", "ExampleGen", store=sqlite_store) as run:
        examples = run.log_artifact(tmp_path / "ex", "Examples", properties={"span": 20130101})
    with mlstore.run("p", "Trainer", store=sqlite_store) as run:
        run.use(examples, "examples")  # the handle kept from the earlier block
        model = run.log_model(tmp_path / "model")
        with pytest.raises(errors.FailedPrecondition, match="until its run"):
            model.id
        with pytest.raises(errors.InvalidArgument, match="cannot also be its input"):
            run.use(model, "base_model")
    with mlstore.run("p", "Evaluator", store=sqlite_store) as run:
        run.use(model, "model")
        evaluation = run.log_evaluation({"Overall": {"auc": 0.8}})
    return sqlite_store, examples, model, evaluation, tmp_path


def test_handles_resolve_after_the_run_and_work_everywhere(recorded):
    store, examples, model, evaluation, _ = recorded
    assert examples.artifact == store.artifacts(type="Examples")[0]
    assert (model.id, str(model.node_id), str(model)) == (store.artifacts(type="Model")[0].id,
                                                          f"artifact:{model.id}", f"artifact:{model.id}")
    trainer_inputs = [e for e in store.events(model) if not e.is_output]
    assert [(e.artifact_id, e.role) for e in store.events(examples) if not e.is_output] == [(examples.id, "examples")]
    assert trainer_inputs == [] or all(e.role == "model" for e in trainer_inputs)
    assert store.evaluation_metrics(evaluation) == {"Overall": {"auc": 0.8}}
    assert {n.type for n in store.lineage(evaluation, "up").nodes} >= {"Model", "Trainer", "Examples"}


def test_a_pending_output_is_not_an_input_of_another_open_run(recorded):
    store, examples, _, _, tmp_path = recorded
    with mlstore.run("p", "A", store=store) as outer:
        pending = outer.log_artifact(tmp_path / "ex", "Examples", properties={"span": 20130102})
        with pytest.raises(errors.FailedPrecondition):
            with mlstore.run("p", "B", store=store) as inner:
                inner.use(pending, "examples")
        with pytest.raises(errors.FailedPrecondition):
            store.artifact(pending)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda v: type(v).__name__)
def test_store_calls_reject_wrong_reference_types_with_typed_errors(recorded, wrong):
    store = recorded[0]
    calls = [store.artifact, store.execution, store.events, store.resolve, store.evaluation_metrics,
             store.local_path, lambda r: store.lineage(r, "up"), lambda r: store.blessings(model=r)]
    for call in calls:
        if wrong is None and call.__name__ == "<lambda>":
            continue  # blessings(model=None) means every model
        with pytest.raises(errors.MlstoreError):
            call(wrong)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda v: type(v).__name__)
def test_sdk_calls_reject_wrong_argument_types_with_typed_errors(recorded, wrong):
    store, examples, _, _, tmp_path = recorded
    for kwargs in ({"pipeline": wrong}, {"step": wrong}, {"params": wrong if wrong not in ({}, None) else 3},
                   {"run_id": wrong if wrong is not None else 3}, {"seed": wrong if wrong is not None else "x"},
                   {"store": wrong if wrong is not None else 3}):
        args = {"pipeline": "p", "step": "S", "store": store, **kwargs}
        with pytest.raises(errors.MlstoreError):
            with mlstore.run(args.pop("pipeline"), args.pop("step"), **args):
                pass
    with mlstore.run("p", "S", store=store) as run:
        for call in (lambda: run.use(wrong, "examples"), lambda: run.use(examples, wrong),
                     lambda: run.log_artifact(wrong, "Examples"), lambda: run.log_artifact(tmp_path / "ex", wrong),
                     lambda: run.log_artifact(tmp_path / "ex", "Examples", properties=wrong if wrong not in ({}, None) else 3),
                     lambda: run.log_model(wrong), lambda: run.log_evaluation(wrong if wrong != {} else 3),
                     lambda: run.log_evaluation({"Overall": {"auc": "x" if isinstance(wrong, (float, bool)) else wrong}})):
            with pytest.raises(errors.MlstoreError):
                call()
