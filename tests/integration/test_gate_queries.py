"""The store reads of a gate decision: few queries, the same errors as ever.

``evaluate_gate`` (also behind the gRPC EvaluateGate) reads the store only through
``artifact``, ``execution``, ``events``, ``local_path`` and ``evaluation_metrics``. These
fetch the node directly and check that it exists only when the fetch finds nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

import mlstore
from mlstore import errors
from mlstore.gates import parse_gate_spec
from mlstore.gates.store_gate import evaluate_gate

SPEC = """\
version: 1
metrics:
  - name: auc_roc
    lower_bound: 0.5
    change: {direction: higher_is_better, absolute: -0.1}
"""


def log_day(store, tmp_path, day: int, blessed: bool):
    """Trainer -> Model -> Evaluator -> ModelEvaluation (indexed metrics) -> Gate -> ModelBlessing."""
    model_dir = tmp_path / f"model{day}"
    model_dir.mkdir()
    (model_dir / "saved_model.pb").write_text(f"model {day}")
    with mlstore.run("demo", "Trainer", store=store) as r:
        r.log_model(model_dir, properties={"span": day})
    model = r.outputs[0]
    with mlstore.run("demo", "Evaluator", store=store) as r:
        r.use(model, "model")
        r.log_evaluation({"Overall": {"auc_roc": 0.7 + day / 100, "example_count": 100}})
    evaluation = r.outputs[0]
    blessing_dir = tmp_path / f"blessing{day}"
    blessing_dir.mkdir()
    (blessing_dir / ("BLESSED" if blessed else "NOT_BLESSED")).write_text("")
    with mlstore.run("demo", "Gate", store=store) as r:
        r.use(model, "model")
        r.use(evaluation, "evaluation")
        r.log_artifact(blessing_dir, "ModelBlessing", properties={
            "blessed": int(blessed), "current_model_id": model.id, "evaluation_id": evaluation.id})
    return model, evaluation


def test_lookups_raise_as_before(store, tmp_path):
    model, evaluation = log_day(store, tmp_path, 1, blessed=True)
    execution = f"execution:{store.events(evaluation)[0].execution_id}"
    cases = [
        (store.artifact, "artifact:999999", errors.NotFound, "artifact:999999 does not exist in"),
        (store.artifact, 999999, errors.NotFound, "artifact:999999 does not exist in"),
        (store.artifact, "execution:999999", errors.NotFound, "execution:999999 does not exist in"),
        (store.artifact, execution, errors.InvalidArgument, "is an execution, not an artifact"),
        (store.artifact, "artifact:x", errors.InvalidArgument, "bad node id"),
        (store.execution, 999999, errors.NotFound, "execution:999999 does not exist in"),
        (store.execution, model.node_id, errors.InvalidArgument, "is an artifact, not an execution"),
        (store.events, "artifact:999999", errors.NotFound, "artifact:999999 does not exist in"),
        (store.events, "execution:999999", errors.NotFound, "execution:999999 does not exist in"),
        (store.evaluation_metrics, "artifact:999999", errors.NotFound, "artifact:999999 does not exist in"),
        (store.evaluation_metrics, execution, errors.InvalidArgument, "is an execution, not an artifact"),
        (store.local_path, "artifact:999999", errors.NotFound, "artifact:999999 does not exist in"),
    ]
    for lookup, ref, error, message in cases:
        with pytest.raises(error, match=message):
            lookup(ref)
    assert store.artifact(evaluation.digest[:20]).id == evaluation.id
    assert store.execution(execution).type == "Evaluator"
    assert store.evaluation_metrics(model) == {}  # an artifact without metrics
    assert store.evaluation_metrics(evaluation)["Overall"]["auc_roc"] == pytest.approx(0.71)
    assert store.local_path(evaluation) == store.local_path(evaluation.node_id)


def test_gate_decision_reads_each_node_once(store, tmp_path):
    base, base_evaluation = log_day(store, tmp_path, 1, blessed=True)
    candidate, evaluation = log_day(store, tmp_path, 2, blessed=False)
    statements = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    outcome = evaluate_gate(store, candidate.node_id, "latest-blessed", SPEC, record=False)
    assert outcome.report.passed
    assert (outcome.evaluation.id, outcome.baseline.id, outcome.baseline_evaluation.id) == (
        evaluation.id, base.id, base_evaluation.id)
    assert "evaluated on different data" in outcome.notes[0]
    # The candidate 1, the latest blessed model 2; per model: its Evaluator runs 4 (its
    # events, the Evaluator and Gate executions, the Evaluator's events), its evaluation 1
    # and the evaluation's metrics 1. (It was 42: every lookup ran an existence query
    # first, and the candidate's runs were read twice.)
    assert len(statements) <= 15, "\n".join(statements)


def test_parsed_specs_are_cached_by_text():
    assert parse_gate_spec(SPEC) is parse_gate_spec(SPEC)
    with pytest.raises(errors.InvalidArgument, match="unknown metric"):
        parse_gate_spec(SPEC.replace("auc_roc", "aucc"))
