"""EvaluateGate: the gate decision of :mod:`mlstore.gates.store_gate`, as protobuf.

Finding the evaluations and deciding is the same code as ``mlstore gate``; this module
bounds the request and converts the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlstore import errors
from mlstore.gates import GateReport, render_text, store_gate
from mlstore.gates.store_gate import LATEST_BLESSED
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
    # The same lookup and decision as `mlstore gate`, read-only (EvaluateGate needs the read scope).
    baseline = None if no_baseline else (baseline_ref or LATEST_BLESSED)
    outcome = store_gate.evaluate_gate(store, candidate_ref, baseline, spec_yaml, record=False)
    return GateOutcome(outcome.report, outcome.evaluation, outcome.baseline_evaluation, render_text(outcome.report))
