"""Gates on data: "no anomalies" and "drift below a threshold", decided on an ExampleAnomalies.

Spec (YAML)::

    version: 1
    data:
      no_anomalies: true              # any anomaly in the checked splits fails (default false)
      splits: [train, eval]           # default: every split
      max_drift: 0.2                  # every drift/skew measurement must be <= this
      features: {dep_delay: 0.1}      # per-feature thresholds (override max_drift)

The drift and skew values are the ones ExampleValidator measured (``drift_skew_info``:
L-infinity for string features, Jensen-Shannon divergence for numeric ones), so the gate
decides on what was recorded. The decision is a pure function; failing checks come
first. Errors are :class:`~mlstore.errors.InvalidArgument` naming the field and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import yaml
from tensorflow_metadata.proto.v0 import anomalies_pb2

from mlstore.errors import InvalidArgument
from mlstore.gates.spec import SPEC_VERSION, _fail, _int, _mapping, _number, _scalar, _sequence, _string


@dataclass(frozen=True)
class DataGateSpec:
    """What a data gate requires (see the module docstring)."""

    no_anomalies: bool = False
    splits: tuple[str, ...] = ()
    max_drift: float | None = None
    feature_max_drift: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Canonical JSON-able form (part of a model gate spec's digest)."""
        return {"no_anomalies": self.no_anomalies, "splits": list(self.splits), "max_drift": self.max_drift,
                "features": dict(sorted(self.feature_max_drift.items()))}


@dataclass(frozen=True)
class DataCheck:
    """One check: an anomaly of a feature, or one drift/skew measurement against its threshold."""

    split: str
    feature: str
    kind: str  # "anomaly", "drift" or "skew"
    passed: bool
    detail: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DataGateReport:
    checks: tuple[DataCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[DataCheck]:
        return [c for c in self.checks if not c.passed]


def parse_data_gate(text: str) -> DataGateSpec:
    """Parses a data gate spec.

    Raises:
        InvalidArgument: malformed YAML, unknown key, wrong value; the message names field and line.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"gate spec: malformed YAML: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        raise InvalidArgument("gate spec: empty document")
    keys = _mapping(root, "", {"version", "data"}, {"version", "data"})
    version = _int(keys["version"][1], "version", 1)
    if version != SPEC_VERSION:
        raise _fail("version", keys["version"][1], f"unsupported version {version} (expected {SPEC_VERSION})")
    return parse_data_section(keys["data"][1])


def parse_data_section(node: yaml.Node, path: str = "data") -> DataGateSpec:
    """The ``data:`` mapping of a data gate spec or of a model gate spec (:mod:`mlstore.gates.spec`).

    Raises:
        InvalidArgument: unknown key, wrong value, nothing to check (names field and line).
    """
    data = _mapping(node, path, {"no_anomalies", "splits", "max_drift", "features"})
    no_anomalies = False
    if "no_anomalies" in data:
        no_anomalies = _scalar(data["no_anomalies"][1], f"{path}.no_anomalies")
        if not isinstance(no_anomalies, bool):
            raise _fail(f"{path}.no_anomalies", data["no_anomalies"][1], "expected true or false")
    splits = tuple(_string(n, f"{path}.splits[{i}]") for i, n in
                   enumerate(_sequence(data["splits"][1], f"{path}.splits"))) if "splits" in data else ()
    max_drift = _threshold(data["max_drift"][1], f"{path}.max_drift") if "max_drift" in data else None
    features = {}
    if "features" in data:
        features_node = data["features"][1]
        if not isinstance(features_node, yaml.MappingNode):
            raise _fail(f"{path}.features", features_node, "expected a mapping of feature: threshold")
        for key_node, value_node in features_node.value:
            name = _string(key_node, f"{path}.features")
            features[name] = _threshold(value_node, f"{path}.features.{name}")
    if not no_anomalies and max_drift is None and not features:
        raise _fail(path, node, "nothing to check: set no_anomalies, max_drift or features")
    return DataGateSpec(no_anomalies, splits, max_drift, features)


def _threshold(node: yaml.Node, path: str) -> float:
    value = _number(node, path, allow_null=False)
    if not 0 <= value <= 1:
        raise _fail(path, node, f"expected a threshold in [0, 1], got {value}")
    return value


def decide_data(spec: DataGateSpec, anomalies: Mapping[str, anomalies_pb2.Anomalies]) -> DataGateReport:
    """The checks of ``spec`` on per-split anomalies, failing ones first.

    Raises:
        InvalidArgument: the spec names a split the anomalies do not have.
    """
    missing = [s for s in spec.splits if s not in anomalies]
    if missing:
        raise InvalidArgument(f"gate spec: data.splits names {', '.join(missing)}, not in the anomalies "
                              f"(splits: {', '.join(sorted(anomalies))})")
    checks = []
    for split in spec.splits or tuple(sorted(anomalies)):
        found = anomalies[split]
        if spec.no_anomalies:
            checks += [DataCheck(split, name, "anomaly", False, info.short_description)
                       for name, info in sorted(found.anomaly_info.items())]
        for info in found.drift_skew_info:
            name = ".".join(info.path.step)
            threshold = spec.feature_max_drift.get(name, spec.max_drift)
            if threshold is None:
                continue
            for kind, measurements in (("drift", info.drift_measurements), ("skew", info.skew_measurements)):
                for m in measurements:
                    metric = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type)
                    checks.append(DataCheck(split, name, kind, m.value <= threshold,
                                            f"{metric} {m.value:.4g} (max {threshold:g})", m.value, threshold))
    return DataGateReport(tuple(sorted(checks, key=lambda c: (c.passed, c.split, c.feature, c.kind))))
