"""`mlstore gate`: exit codes, reports, and the recorded ModelBlessing audit trail.

Stores are built with the SDK: Model artifacts are small files (the gate never loads a
model), ModelEvaluations are real evaluator layouts written by ``write_evaluation`` as
outputs of Evaluator executions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

import mlstore
from mlstore.components.evaluator import EvalResult, SliceResult, write_evaluation
from mlstore.gates import parse_gate_spec
from mlstore.gates.store_gate import evaluate_gate
from mlstore.types import Artifact
from mlstore.v1 import gate_service_pb2, gate_service_pb2_grpc
from tests.grpc_support import serve

PIPELINE = "flights"
SPEC = """\
version: 1
min_examples: 10
metrics:
  - name: auc_roc
    lower_bound: 0.6
    change: {direction: higher_is_better, absolute: -0.02}
    slices: [overall, {feature: carrier}]
"""
BASE_AUC = {"Overall": 0.78, "carrier=AA": 0.78, "carrier=DL": 0.76}
# Better overall, 0.08 worse on carrier=AA: passes overall, regresses on one slice.
REGRESSING_AUC = {"Overall": 0.80, "carrier=AA": 0.70, "carrier=DL": 0.77}
BETTER_AUC = {"Overall": 0.81, "carrier=AA": 0.79, "carrier=DL": 0.77}


def _eval_result(auc: dict[str, float]) -> EvalResult:
    slices = tuple(SliceResult(key, {"auc_roc": value, "example_count": 100}) for key, value in auc.items())
    return EvalResult(slices=slices, num_examples=100, num_missing_label=0,
                      label={"column": "arr_delay", "op": ">", "threshold": 15.0},
                      slicing_specs=({"features": ["carrier"], "boundaries": {}},))


def log_model(store, tmp: Path, name: str, span: int) -> Artifact:
    """A Trainer execution with a small-file Model output."""
    directory = tmp / f"model-{name}"
    directory.mkdir()
    (directory / "weights.txt").write_text(name)
    with mlstore.run(PIPELINE, "Trainer", {"name": name}, store=store) as run:
        run.log_artifact(directory, "Model", "model", {"span": span})
    return run.outputs[0]


def log_evaluation(store, tmp: Path, model, auc: dict[str, float], baseline=None,
                   baseline_auc: dict[str, float] | None = None) -> dict[str, Artifact]:
    """An Evaluator execution: model (and baseline_model) in, evaluation(s) out; by role."""
    with mlstore.run(PIPELINE, "Evaluator", {"label": "arr_delay > 15"}, store=store) as run:
        run.use(model, "model")
        pairs = [("evaluation", auc)]
        if baseline is not None:
            run.use(baseline, "baseline_model")
            pairs.append(("baseline_evaluation", baseline_auc))
        for role, values in pairs:
            directory = tmp / f"eval-{model.id}-{role}-{len(list(tmp.iterdir()))}"
            result = _eval_result(values)
            write_evaluation(str(directory), result)
            metrics = {s.slice_key: s.metrics for s in result.slices}
            run.log_artifact(directory, "ModelEvaluation", role,
                             {"metrics": json.dumps(metrics, sort_keys=True), "format_version": 1})
    return {role: artifact for (role, _), artifact in zip(pairs, run.outputs)}


def gate_cli(store_uri: str, *args: str) -> tuple[int, str, str]:
    """Runs ``mlstore gate`` in its own process: (exit code, stdout, stderr).

    Not in-process: reopening an embedded store in this process after another
    in-process connection to it wrote and closed fails in MLMD's SQLite ("disk I/O error").
    """
    proc = subprocess.run([sys.executable, "-m", "mlstore", "gate", "--store", store_uri, *args],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
def blessed_baseline(sqlite_store_uri, tmp_path):
    """A store whose pipeline has one blessed model (gated as a first model)."""
    work = tmp_path / "work"
    work.mkdir()
    store = mlstore.open(sqlite_store_uri)
    base = log_model(store, work, "base", span=1)
    log_evaluation(store, work, base, BASE_AUC)
    outcome = evaluate_gate(store, base.node_id, "latest-blessed", SPEC)
    assert outcome.report.passed and store.latest_blessed(PIPELINE).id == base.id
    yield store, base, work
    store.close()


def test_slice_regression_fails_with_that_slice_first(sqlite_store_uri, blessed_baseline, spec_file):
    store, base, work = blessed_baseline
    candidate = log_model(store, work, "cand", span=2)
    evals = log_evaluation(store, work, candidate, REGRESSING_AUC, baseline=base, baseline_auc=BASE_AUC)

    code, out, err = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id),
                              "--baseline", "latest-blessed", "--config", str(spec_file), "--json")
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("mlstore: gate failed: 1 of") and "carrier=AA" in last
    payload = json.loads(out)
    first = payload["checks"][0]
    assert (first["slice_key"], first["kind"], first["status"]) == ("carrier=AA", "change_absolute", "fail")
    assert first["baseline"] == 0.78 and first["delta"] == pytest.approx(-0.08)
    assert all(c["status"] == "pass" for c in payload["checks"][1:])
    assert payload["passed"] is False and payload["baseline"] == str(base.node_id)
    assert payload["evaluation"] == str(evals["evaluation"].node_id)
    assert payload["baseline_evaluation"] == str(evals["baseline_evaluation"].node_id)  # same data

    blessing = store.artifact(payload["blessing"])
    assert blessing.type == "ModelBlessing" and blessing.properties["blessed"] == 0
    assert blessing.properties["current_model_id"] == candidate.id
    assert blessing.properties["baseline_model_id"] == base.id
    assert blessing.properties["evaluation_id"] == evals["evaluation"].id
    assert blessing.properties["gate_spec_digest"] == payload["spec_digest"]
    execution = store.execution(payload["execution"])
    assert execution.type == "Gate" and execution.state == "COMPLETE"
    inputs = {(e.role, e.artifact_id) for e in store.events(execution.node_id) if not e.is_output}
    assert inputs == {("model", candidate.id), ("evaluation", evals["evaluation"].id),
                      ("baseline_model", base.id), ("baseline_evaluation", evals["baseline_evaluation"].id)}
    assert store.latest_blessed(PIPELINE).id == base.id  # a failed gate promotes nothing
    recorded = json.loads((Path(store.local_path(blessing.node_id)) / "report.json").read_text())
    assert recorded["checks"][0]["slice_key"] == "carrier=AA"

    # The text report: the failing slice's check is the first row under the header.
    code, out, err = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id),
                              "--config", str(spec_file), "--no-record")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("Gate FAILED: 1 failed")
    assert lines[1].startswith(f"candidate {candidate.node_id} (")
    assert lines[2].startswith(f"baseline  {base.node_id} (")  # the text names the baseline model
    rows = lines[lines.index(next(x for x in lines if x.startswith("---"))) + 1:]
    assert rows[0].split()[:4] == ["FAIL", "carrier=AA", "auc_roc", "change_absolute"]
    assert lines[-1] == "not recorded (--no-record)"
    assert len(store.blessings(model=candidate)) == 1  # --no-record recorded nothing


def test_pass_blesses_the_candidate_and_writes_markdown(sqlite_store_uri, blessed_baseline, spec_file,
                                                        tmp_path):
    store, base, work = blessed_baseline
    candidate = log_model(store, work, "cand", span=2)
    log_evaluation(store, work, candidate, BETTER_AUC)  # alone: the baseline's own evaluation is used
    markdown = tmp_path / "comment.md"
    code, out, err = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id),
                              "--config", str(spec_file), "--markdown", str(markdown))
    assert code == 0, err
    assert out.startswith("Gate PASSED: 0 failed of 6 checks")
    assert "evaluated on different data" in out
    assert "blessed=1" in out.splitlines()[-1]
    assert store.latest_blessed(PIPELINE).id == candidate.id
    [blessing] = store.blessings(model=candidate)
    assert blessing.blessed and blessing.baseline_id == base.id
    text = markdown.read_text()
    assert text.startswith("### Model gate: ✅ PASS")
    assert "| ✅ pass | `carrier=AA` | auc_roc | change_absolute |" in text
    assert "evaluated on different data" in text and not (tmp_path / "comment.md.tmp").exists()


def test_first_model_applies_value_thresholds_only(sqlite_store_uri, spec_file, tmp_path):
    store = mlstore.open(sqlite_store_uri)
    model = log_model(store, tmp_path, "first", span=1)
    log_evaluation(store, tmp_path, model, {"Overall": 0.7, "carrier=AA": 0.55, "carrier=DL": 0.7})
    code, out, _ = gate_cli(sqlite_store_uri, "--candidate", str(model.node_id),
                            "--config", str(spec_file), "--json")
    payload = json.loads(out)
    assert code == 1 and payload["has_baseline"] is False and payload["baseline"] is None
    assert {c["kind"] for c in payload["checks"]} == {"lower_bound"}
    assert payload["checks"][0]["slice_key"] == "carrier=AA"  # 0.55 < lower_bound 0.6
    assert any("first model" in n for n in payload["notes"])
    [blessing] = store.blessings(model=model)
    assert not blessing.blessed and blessing.baseline_id is None
    store.close()


BAD_SPECS = [
    ("unknown metric", SPEC.replace("name: auc_roc", "name: auc_rocc"), "metrics[0].name (line 4)"),
    ("malformed YAML", SPEC.replace("slices: [overall,", "slices: [overall,,"), "malformed YAML (line 7)"),
    ("unknown slice feature", SPEC.replace("feature: carrier", "feature: origin"),
     "metrics[0].slices[1] (line 7): unknown slice feature 'origin'"),
    ("wrong type", SPEC.replace("absolute: -0.02", "absolute: lots"), "metrics[0].change.absolute (line 6)"),
]


def test_bad_gate_configs_exit_2_naming_the_field_and_record_nothing(sqlite_store_uri, blessed_baseline,
                                                                    tmp_path):
    store, base, work = blessed_baseline
    candidate = log_model(store, work, "cand", span=2)
    log_evaluation(store, work, candidate, BETTER_AUC, baseline=base, baseline_auc=BASE_AUC)
    gates_before = len(store.executions(type="Gate"))
    for case, text, expected in BAD_SPECS:
        spec = tmp_path / "bad.yaml"
        spec.write_text(text)
        code, out, err = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id), "--config", str(spec))
        assert (code, out) == (2, ""), case
        assert expected in err and len(err.strip().splitlines()) == 1, (case, err)
    assert len(store.executions(type="Gate")) == gates_before


def test_missing_evaluation_exits_2_saying_which(sqlite_store_uri, blessed_baseline, spec_file):
    store, _, work = blessed_baseline
    candidate = log_model(store, work, "unevaluated", span=2)
    code, out, err = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id),
                              "--config", str(spec_file))
    assert code == 2 and out == ""
    assert f"the candidate model {candidate.node_id} has no evaluation: run the Evaluator" in err
    assert store.blessings(model=candidate) == []
    code, _, err = gate_cli(sqlite_store_uri, "--candidate", "artifact:999", "--config", str(spec_file))
    assert code == 2 and "artifact:999 does not exist" in err


def test_recorded_blessing_on_every_backend(store_uri, tmp_path):
    store = mlstore.open(store_uri)
    base = log_model(store, tmp_path, "base", span=1)
    log_evaluation(store, tmp_path, base, BASE_AUC)
    first = evaluate_gate(store, base.node_id, "latest-blessed", SPEC)
    candidate = log_model(store, tmp_path, "cand", span=2)
    evals = log_evaluation(store, tmp_path, candidate, REGRESSING_AUC, baseline=base, baseline_auc=BASE_AUC)
    failed = evaluate_gate(store, candidate.node_id, "latest-blessed", SPEC)
    assert first.report.passed and not failed.report.passed
    assert [(b.model_id, b.baseline_id, b.evaluation_id, b.blessed) for b in store.blessings(pipeline=PIPELINE)] == [
        (base.id, None, first.evaluation.id, True), (candidate.id, base.id, evals["evaluation"].id, False)]
    assert failed.blessing.properties["gate_spec_digest"] == failed.report.spec_digest
    # The recorded params re-create the same spec (what `mlstore rerun` of the Gate step reads).
    params = json.loads(store.execution(failed.execution_id).properties["params"])
    assert parse_gate_spec(params["spec"]).digest() == failed.report.spec_digest
    assert store.latest_blessed(PIPELINE).id == base.id
    store.close()


def test_grpc_evaluate_gate_returns_the_cli_report(sqlite_store_uri, blessed_baseline, spec_file):
    store, base, work = blessed_baseline
    candidate = log_model(store, work, "cand", span=2)
    log_evaluation(store, work, candidate, REGRESSING_AUC, baseline=base, baseline_auc=BASE_AUC)
    code, out, _ = gate_cli(sqlite_store_uri, "--candidate", str(candidate.node_id),
                            "--config", str(spec_file), "--json", "--no-record")
    cli_report = json.loads(out)
    with serve(sqlite_store_uri) as (_, target), grpc.insecure_channel(target) as channel:
        stub = gate_service_pb2_grpc.GateServiceStub(channel)
        response = stub.EvaluateGate(gate_service_pb2.EvaluateGateRequest(
            spec_yaml=SPEC, candidate=str(candidate.node_id)), timeout=60)
        remote_code, remote_out, remote_err = gate_cli(sqlite_store_uri, "--server", target, "--candidate",
                                                       str(candidate.node_id), "--config", str(spec_file),
                                                       "--json")
        with pytest.raises(grpc.RpcError) as bad:
            stub.EvaluateGate(gate_service_pb2.EvaluateGateRequest(
                spec_yaml=SPEC.replace("auc_roc", "auc"), candidate=str(candidate.node_id)), timeout=60)
    assert code == 1
    report = response.report
    assert report.passed is False and report.spec_digest == cli_report["spec_digest"]
    assert list(report.notes) == cli_report["notes"]
    def value(check, field):
        return getattr(check, field) if check.HasField(field) else None  # proto3 optional

    assert [(c.slice, c.kind, c.status, value(c, "candidate"), value(c, "baseline")) for c in report.checks] == [
        (c["slice_key"], c["kind"], c["status"], c["candidate"], c["baseline"]) for c in cli_report["checks"]]
    assert response.candidate_evaluation == cli_report["evaluation"]
    assert response.baseline_evaluation == cli_report["baseline_evaluation"]
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "metrics[0].name" in bad.value.details()
    assert len(store.blessings(model=candidate)) == 1  # EvaluateGate is read-only; the CLI recorded
    # `mlstore gate --server`: the same report, the blessing recorded through the server.
    assert remote_code == 1, remote_err
    remote = json.loads(remote_out)
    assert remote["checks"] == cli_report["checks"] and remote["notes"] == cli_report["notes"]
    assert store.artifact(remote["blessing"]).properties["blessed"] == 0
