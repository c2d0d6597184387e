"""Gate spec: YAML parsing and validation.

A gate spec says which metric values a candidate model must reach, overall and per
slice, in the spirit of TFMA's EvalConfig::

    version: 1
    min_examples: 50                  # default for every metric; optional (default 1)
    metrics:
      - name: auc_roc                 # one of evaluator METRIC_NAMES
        lower_bound: 0.6              # value thresholds: candidate >= lower_bound
        upper_bound: 1.0              #                   candidate <= upper_bound
        change:                       # change thresholds against the baseline model
          direction: higher_is_better # or lower_is_better
          absolute: -0.01
          relative: -0.02
        min_examples: 100             # optional per-metric override
        slices: [overall, {feature: carrier}, {features: [carrier, origin]},
                 {slice: "origin=JFK"}]   # default: [overall]
    data:                             # optional: checks on the candidate's training data,
      no_anomalies: true              # decided on the ExampleAnomalies ExampleValidator
      max_drift: 0.2                  # recorded for the Examples the Trainer read
      features: {dep_delay: 0.1}      # (keys as in mlstore.gates.data_gate)

``metrics`` may be left out when ``data`` is given. Data checks fail the gate like metric
checks (``data_anomaly``, ``data_drift``, ``data_skew``; ``data_present`` when no
anomalies were recorded for the training data), and the blessing's Gate execution takes
the ExampleAnomalies as an input.

Semantics (all comparisons inclusive):

* ``improvement = candidate - baseline`` if ``higher_is_better``, else
  ``baseline - candidate``.
* ``absolute: a`` passes iff ``improvement >= a``. So ``absolute: -0.01`` lets the
  candidate be at most 0.01 worse than the baseline; ``absolute: 0`` forbids any
  regression; ``absolute: 0.02`` demands a 0.02 improvement.
* ``relative: r`` passes iff ``improvement / |baseline| >= r`` (``-0.02``: at most 2 %
  worse). With a zero baseline it passes iff ``improvement >= 0``.
* Slice selectors: ``overall``; ``{feature: f}`` = every slice of ``f`` alone;
  ``{features: [f, g]}`` = every slice of the cross; ``{slice: "f=v"}`` = one named slice.
* A slice with fewer than ``min_examples`` examples (unweighted) is skipped and listed.

Errors are :class:`~mlstore.errors.InvalidArgument` whose message names the field path
and YAML line, e.g. ``metrics[0].change.absolute (line 7): expected a number``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import yaml

from mlstore.components.evaluator.layout import EvalResult
from mlstore.components.evaluator.metrics import METRIC_NAMES
from mlstore.tfx.tfma import METRIC_NAMES as TFMA_METRIC_NAMES
from mlstore.components.evaluator.slicing import canonical_slice_key, slice_features
from mlstore.errors import InvalidArgument

if TYPE_CHECKING:
    from mlstore.gates.data_gate import DataGateSpec

SPEC_VERSION = 1
DIRECTIONS = ("higher_is_better", "lower_is_better")


@dataclass(frozen=True)
class SliceSelector:
    """Which slices a metric gate applies to.

    ``kind`` is ``overall``, ``features`` (every slice over exactly ``features``) or
    ``slice`` (the one canonical ``slice_key``). ``line`` is the YAML line, for errors.
    """

    kind: str
    features: tuple[str, ...] = ()
    slice_key: str | None = None
    line: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "overall":
            return {"overall": True}
        if self.kind == "slice":
            return {"slice": self.slice_key}
        return {"features": list(self.features)}


@dataclass(frozen=True)
class ChangeThreshold:
    """Allowed change against the baseline (see module docstring)."""

    direction: str
    absolute: float | None = None
    relative: float | None = None


@dataclass(frozen=True)
class MetricGate:
    """Thresholds on one metric over a set of slices."""

    name: str
    slices: tuple[SliceSelector, ...]
    min_examples: int
    lower_bound: float | None = None
    upper_bound: float | None = None
    change: ChangeThreshold | None = None


@dataclass(frozen=True)
class GateSpec:
    """A parsed, validated gate spec."""

    version: int
    min_examples: int
    metrics: tuple[MetricGate, ...]
    data: DataGateSpec | None = None  # checks on the candidate's training data (data_gate)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form (no YAML line numbers; ``data`` only when set, so the
        digests of specs without it are what they always were)."""
        def metric(g: MetricGate) -> dict[str, Any]:
            return {"name": g.name, "min_examples": g.min_examples, "lower_bound": g.lower_bound,
                    "upper_bound": g.upper_bound, "change": asdict(g.change) if g.change else None,
                    "slices": [s.to_dict() for s in g.slices]}
        canonical = {"version": self.version, "min_examples": self.min_examples,
                     "metrics": [metric(g) for g in self.metrics]}
        if self.data is not None:
            canonical["data"] = self.data.to_dict()
        return canonical

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of :meth:`to_dict` (linked by the blessing)."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- YAML node helpers

def _fail(path: str, node: yaml.Node | None, msg: str) -> InvalidArgument:
    where = f" (line {node.start_mark.line + 1})" if node is not None else ""
    return InvalidArgument(f"gate spec: {path}{where}: {msg}")


def _mapping(node: yaml.Node, path: str, allowed: set[str], required: set[str] = frozenset()
             ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Keys of a mapping node -> (key node, value node), rejecting unknown/duplicate keys."""
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, "expected a mapping")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        sub = f"{path}.{key}" if path else str(key)
        if key not in allowed:
            raise _fail(sub, key_node, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        if key in out:
            raise _fail(sub, key_node, "duplicate key")
        out[key] = (key_node, value_node)
    for key in sorted(required - set(out)):
        raise _fail(f"{path}.{key}" if path else key, node, "required key is missing")
    return out


def _scalar(node: yaml.Node, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(path, node, "expected a single value")
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _number(node: yaml.Node, path: str, allow_null: bool = True) -> float | None:
    value = _scalar(node, path)
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, node, f"expected a number, got {value!r}")
    return float(value)


def _int(node: yaml.Node, path: str, minimum: int) -> int:
    value = _scalar(node, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(path, node, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _string(node: yaml.Node, path: str) -> str:
    value = _scalar(node, path)
    if not isinstance(value, str) or not value:
        raise _fail(path, node, f"expected a non-empty string, got {value!r}")
    return value


def _sequence(node: yaml.Node, path: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(path, node, "expected a list")
    return list(node.value)


# ---------------------------------------------------------------- spec parts

def _slice_selector(node: yaml.Node, path: str) -> SliceSelector:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if _scalar(node, path) != "overall":
            raise _fail(path, node, "expected 'overall', {feature: f}, {features: [..]} or {slice: 'f=v'}")
        return SliceSelector("overall", line=line)
    keys = _mapping(node, path, {"feature", "features", "slice"})
    if len(keys) != 1:
        raise _fail(path, node, "give exactly one of feature, features, slice")
    (key, (_, value)), = keys.items()
    sub = f"{path}.{key}"
    if key == "feature":
        return SliceSelector("features", (_string(value, sub),), line=line)
    if key == "features":
        feats = tuple(sorted(_string(v, f"{sub}[{i}]") for i, v in enumerate(_sequence(value, sub))))
        if not feats or len(set(feats)) != len(feats):
            raise _fail(sub, value, "expected distinct feature names")
        return SliceSelector("features", feats, line=line)
    try:
        key_str = canonical_slice_key(_string(value, sub))
    except InvalidArgument as exc:
        raise _fail(sub, value, str(exc)) from exc
    if key_str == "Overall":
        return SliceSelector("overall", line=line)
    return SliceSelector("slice", slice_key=key_str, line=line)


def _change(node: yaml.Node, path: str) -> ChangeThreshold:
    keys = _mapping(node, path, {"direction", "absolute", "relative"}, {"direction"})
    direction = _string(keys["direction"][1], f"{path}.direction")
    if direction not in DIRECTIONS:
        raise _fail(f"{path}.direction", keys["direction"][1], f"expected one of {', '.join(DIRECTIONS)}")
    absolute = _number(keys["absolute"][1], f"{path}.absolute") if "absolute" in keys else None
    relative = _number(keys["relative"][1], f"{path}.relative") if "relative" in keys else None
    if absolute is None and relative is None:
        raise _fail(path, node, "give absolute and/or relative")
    return ChangeThreshold(direction, absolute, relative)


_METRIC_KEYS = {"name", "lower_bound", "upper_bound", "change", "slices", "min_examples"}


def _metric_gate(node: yaml.Node, path: str, default_min: int) -> MetricGate:
    keys = _mapping(node, path, _METRIC_KEYS, {"name"})
    name_node = keys["name"][1]
    name = _string(name_node, f"{path}.name")
    if name not in METRIC_NAMES and name not in TFMA_METRIC_NAMES:
        raise _fail(f"{path}.name", name_node, f"unknown metric {name!r} (known: {', '.join(METRIC_NAMES)}; "
                    f"TFMA's: {', '.join(TFMA_METRIC_NAMES)})")

    def opt(key: str, parse: Callable[[yaml.Node, str], Any], default: Any = None) -> Any:
        return parse(keys[key][1], f"{path}.{key}") if key in keys else default

    gate = MetricGate(
        name=name,
        slices=tuple(opt("slices", lambda n, p: [_slice_selector(v, f"{p}[{i}]")
                                                 for i, v in enumerate(_sequence(n, p))],
                         [SliceSelector("overall", line=name_node.start_mark.line + 1)])),
        min_examples=opt("min_examples", lambda n, p: _int(n, p, 1), default_min),
        lower_bound=opt("lower_bound", _number),
        upper_bound=opt("upper_bound", _number),
        change=opt("change", _change),
    )
    if gate.lower_bound is None and gate.upper_bound is None and gate.change is None:
        raise _fail(path, node, "give at least one of lower_bound, upper_bound, change")
    if not gate.slices:
        raise _fail(f"{path}.slices", keys["slices"][1], "expected at least one slice selector")
    return gate


@functools.lru_cache(maxsize=32)
def parse_gate_spec(text: str) -> GateSpec:
    """Parse and validate a gate spec YAML document.

    Parsed specs are cached by text (a :class:`GateSpec` is immutable): a server
    decides with the same spec again and again.

    Args:
        text: the YAML text.

    Returns:
        The validated :class:`GateSpec`.

    Raises:
        InvalidArgument: malformed YAML, unknown key/metric, wrong value type or missing
            field; the message names the field path and YAML line.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidArgument(f"gate spec: malformed YAML{line}: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        raise InvalidArgument("gate spec: empty document")
    keys = _mapping(root, "", {"version", "min_examples", "metrics", "data"}, {"version"})
    version = _int(keys["version"][1], "version", 1)
    if version != SPEC_VERSION:
        raise _fail("version", keys["version"][1], f"unsupported version {version} (expected {SPEC_VERSION})")
    if "metrics" not in keys and "data" not in keys:
        raise _fail("metrics", root, "required key is missing (or give a data: section)")
    default_min = _int(keys["min_examples"][1], "min_examples", 1) if "min_examples" in keys else 1
    metric_nodes = _sequence(keys["metrics"][1], "metrics") if "metrics" in keys else []
    if "metrics" in keys and not metric_nodes:
        raise _fail("metrics", keys["metrics"][1], "expected at least one metric gate")
    gates = tuple(_metric_gate(n, f"metrics[{i}]", default_min) for i, n in enumerate(metric_nodes))
    data = None
    if "data" in keys:
        from mlstore.gates.data_gate import parse_data_section  # noqa: PLC0415 - it reuses this module's helpers

        data = parse_data_section(keys["data"][1])
    return GateSpec(version, default_min, gates, data)


def load_gate_spec(path: str) -> GateSpec:
    """Read and parse a gate spec file (see :func:`parse_gate_spec`).

    Raises:
        InvalidArgument: the file cannot be read or the spec is invalid.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise InvalidArgument(f"gate spec: cannot read {path}: {exc.strerror}") from exc
    return parse_gate_spec(text)


def validate_against(spec: GateSpec, evaluation: EvalResult) -> None:
    """Check that every slice feature the spec names exists in the evaluation.

    Raises:
        InvalidArgument: a selector names a feature the evaluation was not sliced by
            (message gives the field path and YAML line).
    """
    available = evaluation.features()
    evaluated = {name for result in evaluation.slices for name in result.metrics}
    for i, gate in enumerate(spec.metrics):
        if evaluated and gate.name not in evaluated:
            raise InvalidArgument(f"gate spec: metrics[{i}].name: the evaluation has no metric {gate.name!r} "
                                  f"(it has: {', '.join(sorted(evaluated))})")
        for j, sel in enumerate(gate.slices):
            feats = slice_features(sel.slice_key) if sel.kind == "slice" else sel.features
            missing = [f for f in feats if f not in available]
            if missing:
                raise InvalidArgument(
                    f"gate spec: metrics[{i}].slices[{j}] (line {sel.line}): unknown slice feature "
                    f"{missing[0]!r} (evaluation has: {', '.join(sorted(available)) or 'none'})")
