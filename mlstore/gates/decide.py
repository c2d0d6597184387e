"""The gate decision: a pure function of (spec, candidate evaluation, baseline evaluation).

See :mod:`mlstore.gates.spec` for threshold semantics. Every (metric, slice,
threshold kind) gives one :class:`~mlstore.gates.report.GateCheck`; the gate passes iff
no check fails. Without a baseline (the first model) only value thresholds apply.
A slice or metric the spec asks for but the candidate lacks is a failure, not a crash;
a slice missing from the *baseline* only skips its change checks (a new slice cannot
regress). A spec's ``data:`` checks are decided on the training data's anomalies
(:func:`mlstore.gates.data_gate.decide_data`) and join the same list of checks.
"""

from __future__ import annotations

from typing import Any, Mapping

from mlstore.components.evaluator.layout import EvalResult
from mlstore.components.evaluator.slicing import OVERALL, slice_features

from .data_gate import decide_data
from .report import FAIL, KINDS, PASS, SKIPPED, GateCheck, GateReport
from .spec import ChangeThreshold, GateSpec, MetricGate, SliceSelector


def _expand(selector: SliceSelector, candidate: EvalResult) -> list[str]:
    """Candidate slice keys a selector covers (may be empty)."""
    if selector.kind == "overall":
        return [OVERALL] if candidate.get(OVERALL) else []
    if selector.kind == "slice":
        return [selector.slice_key] if candidate.get(selector.slice_key) else []
    return [k for k in candidate.slice_keys() if slice_features(k) == selector.features]


def _selector_text(selector: SliceSelector) -> str:
    if selector.kind == "features":
        return " x ".join(selector.features) + " (every slice)"
    return selector.slice_key or OVERALL


def _improvement(change: ChangeThreshold, candidate: float, baseline: float) -> float:
    delta = candidate - baseline
    return delta if change.direction == "higher_is_better" else -delta


def _change_checks(gate: MetricGate, key: str, value: float, baseline: EvalResult) -> list[GateCheck]:
    change = gate.change
    base = baseline.metric(key, gate.name)
    kinds = [(k, t) for k, t in (("change_absolute", change.absolute),
                                  ("change_relative", change.relative)) if t is not None]
    if base is None:
        return [GateCheck(gate.name, key, k, t, value, SKIPPED, reason="no baseline value for this slice")
                for k, t in kinds]
    improvement = _improvement(change, value, base)
    checks = []
    for kind, threshold in kinds:
        if kind == "change_absolute":
            ok, measured = improvement >= threshold, improvement
        elif base == 0:
            ok, measured = improvement >= 0, None  # relative change undefined at 0
        else:
            measured = improvement / abs(base)
            ok = measured >= threshold
        reason = "" if ok else (
            f"{change.direction.replace('_', ' ')}: improvement "
            f"{'undefined' if measured is None else f'{measured:.4g}'} < allowed {threshold:.4g}")
        checks.append(GateCheck(gate.name, key, kind, threshold, value, PASS if ok else FAIL,
                                baseline=base, delta=value - base, reason=reason))
    return checks


def _value_checks(gate: MetricGate, key: str, value: float) -> list[GateCheck]:
    checks = []
    if gate.lower_bound is not None:
        ok = value >= gate.lower_bound
        checks.append(GateCheck(gate.name, key, "lower_bound", gate.lower_bound, value,
                                PASS if ok else FAIL, reason="" if ok else "below lower_bound"))
    if gate.upper_bound is not None:
        ok = value <= gate.upper_bound
        checks.append(GateCheck(gate.name, key, "upper_bound", gate.upper_bound, value,
                                PASS if ok else FAIL, reason="" if ok else "above upper_bound"))
    return checks


def _slice_checks(gate: MetricGate, key: str, candidate: EvalResult,
                  baseline: EvalResult | None, skipped: dict[str, int]) -> list[GateCheck]:
    metrics = candidate.get(key).metrics
    count = int(metrics.get("example_count") or 0)
    if count < gate.min_examples:
        skipped[key] = count
        return [GateCheck(gate.name, key, "present", None, None, SKIPPED,
                          reason=f"{count} examples < min_examples {gate.min_examples}")]
    value = metrics.get(gate.name)
    if value is None:
        why = "metric missing" if gate.name not in metrics else "metric undefined (e.g. one class only)"
        return [GateCheck(gate.name, key, "present", None, None, FAIL, reason=f"{why} in candidate")]
    checks = _value_checks(gate, key, value)
    if baseline is not None and gate.change is not None:
        checks += _change_checks(gate, key, value, baseline)
    return checks


def _sort_key(check: GateCheck) -> tuple:
    return (not check.failed, check.slice_key != OVERALL, check.slice_key, check.metric,
            KINDS.index(check.kind))


def _data_checks(spec: GateSpec, anomalies: Mapping[str, Any] | None) -> list[GateCheck]:
    """The spec's ``data:`` checks as gate checks (``metric`` = feature, ``slice_key`` = split)."""
    if spec.data is None:
        return []
    if anomalies is None:
        return [GateCheck("data", "training data", "data_present", None, None, FAIL,
                          reason="no ExampleAnomalies recorded for the candidate's training Examples "
                                 "(run ExampleValidator on their statistics)")]
    report = decide_data(spec.data, anomalies)
    checks = [GateCheck(c.feature, f"split={c.split}", f"data_{c.kind}", c.threshold, c.value,
                        PASS if c.passed else FAIL, reason="" if c.passed else c.detail)
              for c in report.checks]
    if spec.data.no_anomalies:  # a clean split is a passed check, so the report shows it was made
        flagged = {c.split for c in report.checks if c.kind == "anomaly"}
        checks += [GateCheck("(all features)", f"split={split}", "data_anomaly", None, 0.0, PASS)
                   for split in spec.data.splits or sorted(anomalies) if split not in flagged]
    return checks


def decide(spec: GateSpec, candidate: EvalResult, baseline: EvalResult | None,
           anomalies: Mapping[str, Any] | None = None) -> GateReport:
    """Apply a gate spec to a candidate evaluation (and a baseline, if any).

    Args:
        spec: the parsed gate spec.
        candidate: the candidate model's evaluation.
        baseline: the blessed baseline's evaluation, or ``None`` for a first model.
        anomalies: per split ``Anomalies`` of the candidate's training data, for a spec
            with a ``data:`` section (``None``: none recorded, which fails its checks).

    Returns:
        The :class:`GateReport` (checks sorted failures first).
    """
    checks: dict[tuple[str, str, str], GateCheck] = {}
    skipped: dict[str, int] = {}
    for gate in spec.metrics:
        for selector in gate.slices:
            keys = _expand(selector, candidate)
            if not keys:
                miss = GateCheck(gate.name, _selector_text(selector), "present", None, None, FAIL,
                                 reason="slice not in candidate evaluation")
                checks.setdefault((miss.metric, miss.slice_key, miss.kind), miss)
            for key in keys:
                for c in _slice_checks(gate, key, candidate, baseline, skipped):
                    # A slice selected twice (e.g. by feature and by name) is checked once.
                    checks.setdefault((c.metric, c.slice_key, c.kind), c)
    ordered = tuple(sorted([*checks.values(), *_data_checks(spec, anomalies)], key=_sort_key))
    notes = []
    if baseline is None and any(g.change for g in spec.metrics):
        notes.append("no baseline (first model): only value thresholds were applied")
    if skipped:
        notes.append(f"{len(skipped)} slice(s) skipped: fewer examples than min_examples")
    if not any(c.status != SKIPPED for c in ordered):
        notes.append("no check was applied")
    return GateReport(
        passed=not any(c.failed for c in ordered),
        checks=ordered,
        spec_digest=spec.digest(),
        has_baseline=baseline is not None,
        notes=tuple(notes),
        skipped_slices=tuple(sorted(skipped.items())),
    )
