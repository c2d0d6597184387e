"""Gate decisions and report rendering on hand-built evaluations."""

from __future__ import annotations

import json

from mlstore.components.evaluator.layout import EvalResult, SliceResult
from mlstore.gates import decide, parse_gate_spec, render_markdown, render_text, report_to_dict

SPEC = parse_gate_spec("""\
version: 1
min_examples: 50
metrics:
  - name: auc_roc
    lower_bound: 0.6
    change: {direction: higher_is_better, absolute: -0.01}
    slices: [overall, {feature: carrier}, {slice: "origin=JFK"}]
  - name: log_loss
    change: {direction: lower_is_better, relative: -0.05}
""")


def _evaluation(auc: dict[str, float], log_loss: float = 0.5, counts: dict[str, int] | None = None) -> EvalResult:
    counts = counts or {}
    slices = tuple(SliceResult(k, {"auc_roc": v, "log_loss": log_loss, "example_count": counts.get(k, 1000)})
                   for k, v in auc.items())
    return EvalResult(slices=slices, num_examples=1000, num_missing_label=0, label={"column": "y"})


BASE_AUC = {"Overall": 0.75, "carrier=AA": 0.74, "carrier=UA": 0.73, "origin=JFK": 0.76}


def test_slice_regression_fails_and_is_listed_first():
    baseline = _evaluation(BASE_AUC)
    # Overall improves, but carrier=UA drops by 0.05 (allowed: 0.01).
    candidate = _evaluation({**BASE_AUC, "Overall": 0.77, "carrier=UA": 0.68})
    report = decide(SPEC, candidate, baseline)
    assert not report.passed
    first = report.checks[0]
    assert (first.slice_key, first.metric, first.kind, first.status) == (
        "carrier=UA", "auc_roc", "change_absolute", "fail")
    assert first.delta == 0.68 - 0.73 and first.baseline == 0.73 and first.threshold == -0.01
    assert [c.slice_key for c in report.failures()] == ["carrier=UA"]
    overall = [c for c in report.checks if c.slice_key == "Overall" and c.metric == "auc_roc"]
    assert {c.kind: c.status for c in overall} == {"lower_bound": "pass", "change_absolute": "pass"}
    assert report.has_baseline and report.notes == ()


def test_all_pass_and_log_loss_direction():
    baseline = _evaluation(BASE_AUC, log_loss=0.50)
    worse_ok = decide(SPEC, _evaluation(BASE_AUC, log_loss=0.52), baseline)  # 4 % worse, 5 % allowed
    assert worse_ok.passed
    too_worse = decide(SPEC, _evaluation(BASE_AUC, log_loss=0.53), baseline)  # 6 % worse
    assert not too_worse.passed
    assert [(c.metric, c.kind) for c in too_worse.failures()] == [("log_loss", "change_relative")]


def test_first_model_applies_value_thresholds_only():
    report = decide(SPEC, _evaluation({**BASE_AUC, "carrier=UA": 0.55}), None)
    assert not report.passed and not report.has_baseline
    assert "no baseline" in report.notes[0]
    assert {c.kind for c in report.checks} == {"lower_bound"}
    assert [(c.slice_key, c.kind) for c in report.failures()] == [("carrier=UA", "lower_bound")]


def test_missing_slice_and_undefined_metric_fail_cleanly():
    candidate = _evaluation({"Overall": 0.8, "carrier=AA": None})  # no origin=JFK; AA undefined
    report = decide(SPEC, candidate, _evaluation(BASE_AUC))
    reasons = {(c.slice_key, c.reason) for c in report.failures()}
    assert ("origin=JFK", "slice not in candidate evaluation") in reasons
    assert any(k == "carrier=AA" and "undefined" in r for k, r in reasons)


def test_small_slices_are_skipped_and_reported():
    candidate = _evaluation({**BASE_AUC, "carrier=UA": 0.1}, counts={"carrier=UA": 12})
    report = decide(SPEC, candidate, _evaluation(BASE_AUC))
    assert report.passed  # the bad slice has only 12 examples
    assert report.skipped_slices == (("carrier=UA", 12),)
    assert any("skipped" in n for n in report.notes)


def test_new_slice_without_baseline_skips_change_checks():
    candidate = _evaluation({**BASE_AUC, "carrier=B6": 0.7})
    report = decide(SPEC, candidate, _evaluation(BASE_AUC))
    b6 = {c.kind: c.status for c in report.checks if c.slice_key == "carrier=B6"}
    assert b6 == {"lower_bound": "pass", "change_absolute": "skipped"} and report.passed


def test_renderers():
    baseline = _evaluation(BASE_AUC)
    candidate = _evaluation({**BASE_AUC, "carrier=UA": 0.68})
    report = decide(SPEC, candidate, baseline)
    data = report_to_dict(report)
    assert json.loads(json.dumps(data)) == data and data["passed"] is False
    assert data["checks"][0]["slice_key"] == "carrier=UA"
    text = render_text(report)
    assert text.startswith("Gate FAILED: 1 failed")
    assert text.splitlines()[3].split()[:2] == ["FAIL", "carrier=UA"]
    md = render_markdown(report, collapse_over=3)
    assert md.startswith("### Model gate: ❌ FAIL")
    assert md.index("carrier=UA") < md.index("<details>")
    assert "</details>" in md
    assert "<details>" not in render_markdown(report, collapse_over=100)
