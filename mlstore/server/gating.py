"""EvaluateGate: find the candidate and baseline evaluations in a store, then decide.

The decision and its rendering are :mod:`mlstore.gates` (the same code as the CLI);
this module only fetches the two evaluations from the index.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlstore import errors
from mlstore.components.evaluator.layout import EvalResult, SliceResult, sort_slices
from mlstore.gates import GateReport, decide, parse_gate_spec, render_text, validate_against
from mlstore.index import queries
from mlstore.store import Store
from mlstore.types import Artifact
from mlstore.v1 import types_pb2 as tpb

#: Gate specs are small; anything larger is a mistake (or an attack).
MAX_SPEC_BYTES = 256 * 1024


@dataclass(frozen=True)
class GateOutcome:
    report: GateReport
    candidate: Artifact  # the candidate's ModelEvaluation
    baseline: Artifact | None  # the baseline's ModelEvaluation
    text: str

    def report_pb(self) -> tpb.GateReport:
        r = self.report
        return tpb.GateReport(
            passed=r.passed, spec_digest=r.spec_digest, has_baseline=r.has_baseline, notes=list(r.notes),
            skipped_slices=dict(r.skipped_slices),
            checks=[tpb.GateCheck(metric=c.metric, slice=c.slice_key, kind=c.kind, status=c.status,
                                  threshold=c.threshold, candidate=c.candidate, baseline=c.baseline,
                                  delta=c.delta, reason=c.reason) for c in r.checks])


def evaluation_of(store: Store, ref: str) -> Artifact:
    """The ModelEvaluation ``ref`` names, or the newest evaluation of the Model it names.

    Raises:
        NotFound / InvalidArgument: bad reference. FailedPrecondition: a model never evaluated.
    """
    artifact = store.artifact(ref)
    if artifact.type == "ModelEvaluation":
        return artifact
    if artifact.type != "Model":
        raise errors.InvalidArgument(f"{artifact.node_id} is a {artifact.type}; name a Model or ModelEvaluation")
    with store.engine.connect() as connection:
        evaluation_id = queries.latest_evaluation_of_model(connection, artifact.id)
    if evaluation_id is None:
        raise errors.FailedPrecondition(f"{artifact.node_id} has no evaluation; run the Evaluator first")
    return store.artifact(evaluation_id)


def _model_of(store: Store, evaluation: Artifact) -> int | None:
    for event in store.events(evaluation.node_id):
        if event.is_output:
            for source in store.events(f"execution:{event.execution_id}"):
                if not source.is_output and source.role == "model":
                    return source.artifact_id
    return None


def eval_result(store: Store, evaluation: Artifact) -> EvalResult:
    """An evaluation's indexed metrics as the EvalResult the gate decision takes."""
    metrics = store.evaluation_metrics(evaluation.node_id)
    slices = sort_slices([SliceResult(key, dict(values)) for key, values in metrics.items()])
    overall = metrics.get("Overall", {})
    return EvalResult(slices=slices, num_examples=int(overall.get("example_count", 0)), num_missing_label=0,
                      label={})


def _default_baseline(store: Store, candidate: Artifact) -> Artifact | None:
    """The newest evaluation of the pipeline's latest blessed model (other than the candidate's)."""
    if not candidate.pipeline:
        return None
    blessed = store.latest_blessed(candidate.pipeline)
    if blessed is None or blessed.id == _model_of(store, candidate):
        return None
    return evaluation_of(store, str(blessed.node_id))


def evaluate_gate(store: Store, spec_yaml: str, candidate_ref: str, baseline_ref: str | None,
                  no_baseline: bool) -> GateOutcome:
    """Runs a gate spec against a candidate (and a baseline) from the store.

    Raises:
        InvalidArgument: malformed spec or references. NotFound: unknown artifacts.
        FailedPrecondition: a model without evaluation.
    """
    if len(spec_yaml.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise errors.InvalidArgument(f"gate spec larger than {MAX_SPEC_BYTES} bytes")
    if not spec_yaml.strip():
        raise errors.InvalidArgument("gate spec is empty")
    spec = parse_gate_spec(spec_yaml)
    candidate = evaluation_of(store, candidate_ref)
    if no_baseline:
        baseline = None
    elif baseline_ref:
        baseline = evaluation_of(store, baseline_ref)
    else:
        baseline = _default_baseline(store, candidate)
    candidate_result = eval_result(store, candidate)
    validate_against(spec, candidate_result)
    report = decide(spec, candidate_result, eval_result(store, baseline) if baseline else None)
    return GateOutcome(report, candidate, baseline, render_text(report))
