"""Gate spec parsing: valid specs, digests, and errors naming field path + YAML line."""

from __future__ import annotations

import textwrap

import pytest

from mlstore.components.evaluator.layout import EvalResult, SliceResult
from mlstore.errors import InvalidArgument
from mlstore.gates import SliceSelector, load_gate_spec, parse_gate_spec, validate_against

GOOD = """\
version: 1
min_examples: 50
metrics:
  - name: auc_roc
    lower_bound: 0.6
    change: {direction: higher_is_better, absolute: -0.01}
    slices: [overall, {feature: carrier}, {slice: "origin=JFK"}]
  - name: log_loss
    upper_bound: 0.7
    change:
      direction: lower_is_better
      relative: -0.05
    min_examples: 200
    slices: [{features: [origin, carrier]}, {slice: "origin=JFK,carrier=AA"}]
"""


def _error(text: str) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_gate_spec(textwrap.dedent(text))
    return str(info.value)


def test_parses_the_documented_example():
    spec = parse_gate_spec(GOOD)
    auc, loss = spec.metrics
    assert spec.min_examples == 50 and auc.min_examples == 50 and loss.min_examples == 200
    assert auc.lower_bound == 0.6 and auc.change.absolute == -0.01 and auc.change.relative is None
    assert auc.slices == (SliceSelector("overall"), SliceSelector("features", ("carrier",)),
                          SliceSelector("slice", slice_key="origin=JFK"))
    # Crosses and named slices are canonicalised (features sorted).
    assert loss.slices == (SliceSelector("features", ("carrier", "origin")),
                           SliceSelector("slice", slice_key="carrier=AA,origin=JFK"))
    assert loss.change.direction == "lower_is_better" and loss.change.relative == -0.05


def test_default_slices_is_overall_and_digest_is_canonical(tmp_path):
    a = parse_gate_spec("version: 1\nmetrics: [{name: accuracy, lower_bound: 0.5}]\n")
    assert a.metrics[0].slices == (SliceSelector("overall"),)
    # Same meaning, different formatting/order -> same digest; different meaning -> different.
    b = parse_gate_spec("metrics:\n  - lower_bound: 0.5\n    name: accuracy\nversion: 1\n")
    c = parse_gate_spec("version: 1\nmetrics: [{name: accuracy, lower_bound: 0.51}]\n")
    assert a.digest() == b.digest() != c.digest()
    assert a.digest().startswith("sha256:") and len(a.digest()) == 71
    path = tmp_path / "gate.yaml"
    path.write_text(GOOD)
    assert load_gate_spec(str(path)) == parse_gate_spec(GOOD)


@pytest.mark.parametrize("text, expected", [
    ("version: 1\nmetrics: [\n", "malformed YAML (line"),
    ("version: 1\nmetrics:\n  - name: aucc\n    lower_bound: 0.5\n", "metrics[0].name (line 3): unknown metric 'aucc'"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    lower_bond: 0.5\n", "metrics[0].lower_bond (line 4): unknown key"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    lower_bound: high\n",
     "metrics[0].lower_bound (line 4): expected a number, got 'high'"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    change: {direction: up, absolute: 0}\n",
     "metrics[0].change.direction (line 4)"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    change:\n      direction: higher_is_better\n"
     "      absolute: [1]\n", "metrics[0].change.absolute (line 6): expected a single value"),
    ("version: 1\nmin_examples: -3\nmetrics: [{name: auc_roc, lower_bound: 0}]\n", "min_examples (line 2)"),
    ("version: 2\nmetrics: [{name: auc_roc, lower_bound: 0}]\n", "version (line 1): unsupported version"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n", "metrics[0] (line 3): give at least one of"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    lower_bound: 1\n    slices: [{slice: carrier}]\n",
     "metrics[0].slices[0].slice (line 5)"),
    ("version: 1\nmetrics:\n  - name: auc_roc\n    lower_bound: 1\n    slices: [{feature: a, slice: b=c}]\n",
     "metrics[0].slices[0] (line 5): give exactly one"),
    ("metrics: [{name: auc_roc, lower_bound: 0}]\n", "version (line 1): required key is missing"),
    ("version: 1\nversion: 1\nmetrics: [{name: auc_roc, lower_bound: 0}]\n", "version (line 2): duplicate key"),
    ("", "empty document"),
])
def test_bad_specs_name_the_field_and_line(text, expected):
    assert expected in _error(text)


def test_validate_against_rejects_unknown_slice_feature():
    spec = parse_gate_spec(GOOD)
    evaluation = EvalResult(
        slices=(SliceResult("Overall", {}), SliceResult("carrier=AA", {}),
                SliceResult("carrier=AA,origin=JFK", {}), SliceResult("origin=JFK", {})),
        num_examples=10, num_missing_label=0, label={"column": "y"})
    validate_against(spec, evaluation)  # all features present
    only_carrier = EvalResult(slices=(SliceResult("Overall", {}), SliceResult("carrier=AA", {})),
                              num_examples=10, num_missing_label=0, label={"column": "y"})
    with pytest.raises(InvalidArgument, match=r"metrics\[0\]\.slices\[2\] \(line 7\): unknown slice feature 'origin'"):
        validate_against(spec, only_carrier)
