"""CI gates on model evaluations: spec parsing, a pure decision, report renderers.

    spec = load_gate_spec("gate.yaml")
    validate_against(spec, candidate)          # slice features exist
    report = decide(spec, candidate, baseline)  # baseline may be None
    print(render_text(report)); report.passed
"""

from __future__ import annotations

from .decide import decide
from .report import GateCheck, GateReport, render_markdown, render_text, report_to_dict
from .spec import (ChangeThreshold, GateSpec, MetricGate, SliceSelector, load_gate_spec,
                   parse_gate_spec, validate_against)

__all__ = [
    "decide", "GateCheck", "GateReport", "render_markdown", "render_text", "report_to_dict",
    "ChangeThreshold", "GateSpec", "MetricGate", "SliceSelector", "load_gate_spec",
    "parse_gate_spec", "validate_against",
]
