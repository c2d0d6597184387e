"""Preprocessing spec: raw columns and the features derived from them.

A spec is plain data. It parses from a dict or YAML text, validates eagerly
(every problem raises :class:`mlstore.errors.InvalidArgument` naming the field),
and has a canonical JSON form whose sha256 is :meth:`TransformSpec.digest`.

YAML example::

    raw_columns:
      distance: {dtype: float}
      dep_delay: {dtype: float, default: 0.0}
      carrier: {dtype: string}
    features:
      distance_z: {op: scale_to_z_score, input: distance}
      distance_bucket: {op: bucketize, input: distance_z, num_buckets: 4}
      carrier_id: {op: vocabulary, input: carrier, top_k: 20, num_oov_buckets: 1}

A feature's ``input`` names a raw column or another feature (analyzers chain;
cycles are rejected). Columns and features are kept sorted by name, so the
canonical form and digest do not depend on declaration order.
Missing values: a raw column with ``default`` gets the default where a value is
missing (empty CSV field, NaN, null); a column without ``default`` is required
and a missing value makes the row malformed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from mlstore.errors import InvalidArgument

DTYPES = ("float", "int", "string")
OPS = ("identity", "scale_to_z_score", "vocabulary", "bucketize", "ngrams")

#: What each op produces: "numeric", "categorical" (int ids), "string" or "tokens".
_NUMERIC_OPS = ("scale_to_z_score", "bucketize")


@dataclass(frozen=True)
class RawColumn:
    """A raw input column. ``default`` None means the column is required."""

    name: str
    dtype: str
    default: float | str | None = None


@dataclass(frozen=True)
class Feature:
    """One derived feature.

    Only the parameters of its ``op`` are meaningful (and part of the canonical
    form); the others keep their defaults.
    """

    name: str
    op: str
    input: str
    top_k: int | None = None
    min_frequency: int = 1
    num_oov_buckets: int = 1
    num_buckets: int = 10
    ngram_range: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class TransformSpec:
    """Raw columns plus features, each sorted by name (canonical order)."""

    raw_columns: tuple[RawColumn, ...]
    features: tuple[Feature, ...]

    def raw(self, name: str) -> RawColumn | None:
        """Return the raw column called ``name`` or None."""
        return next((c for c in self.raw_columns if c.name == name), None)

    def feature(self, name: str) -> Feature | None:
        """Return the feature called ``name`` or None."""
        return next((f for f in self.features if f.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Canonical dict form (round-trips through :func:`parse_spec`)."""
        return {
            "raw_columns": {c.name: _raw_to_dict(c) for c in self.raw_columns},
            "features": {f.name: _feature_to_dict(f) for f in self.features},
        }

    def canonical_json(self) -> str:
        """Stable JSON: sorted keys, no whitespace; identical specs give identical text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """sha256 hex of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def output_kind(self, name: str) -> str:
        """Kind of a feature or raw column: numeric, categorical, categorical_list, string, tokens."""
        raw = self.raw(name)
        if raw is not None:
            return "string" if raw.dtype == "string" else "numeric"
        feat = self.feature(name)
        if feat is None:
            raise InvalidArgument(f"unknown feature or column {name!r}")
        if feat.op == "identity":
            return self.output_kind(feat.input)
        if feat.op == "scale_to_z_score":
            return "numeric"
        if feat.op == "bucketize":
            return "categorical"
        if feat.op == "ngrams":
            return "tokens"
        # vocabulary
        return "categorical_list" if self.output_kind(feat.input) == "tokens" else "categorical"


def _raw_to_dict(c: RawColumn) -> dict[str, Any]:
    return {"dtype": c.dtype, "default": c.default}


def _feature_to_dict(f: Feature) -> dict[str, Any]:
    # Only the op's own parameters (top_k omitted when unset), so the form re-parses.
    d: dict[str, Any] = {"op": f.op, "input": f.input}
    for key in sorted(_OP_PARAMS[f.op]):
        value = getattr(f, key)
        if value is not None:
            d[key] = list(value) if key == "ngram_range" else value
    return d


def load_spec(path: str) -> TransformSpec:
    """Parse a YAML or JSON spec file.

    Raises:
        NotFound: the file does not exist.
        InvalidArgument: the content is not a valid spec.
    """
    from mlstore.errors import NotFound

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError as exc:
        raise NotFound(f"transform spec file {path!r} does not exist") from exc
    return parse_spec(text)


def parse_spec(source: str | Mapping[str, Any]) -> TransformSpec:
    """Build a validated :class:`TransformSpec` from YAML/JSON text or a dict.

    Raises:
        InvalidArgument: unknown keys, bad dtypes/ops/parameters, cycles,
            references to unknown inputs or invalid op chains.
    """
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"transform spec is not valid YAML: {exc}") from exc
    if not isinstance(source, Mapping):
        raise InvalidArgument("transform spec must be a mapping with raw_columns and features")
    _check_keys("transform spec", source, {"raw_columns", "features"}, required={"raw_columns", "features"})
    # Sorted by name: the spec (and its digest) does not depend on declaration order.
    raw = tuple(_parse_raw(n, v) for n, v in sorted(_mapping("raw_columns", source["raw_columns"]).items()))
    feats = tuple(_parse_feature(n, v) for n, v in sorted(_mapping("features", source["features"]).items()))
    spec = TransformSpec(raw_columns=raw, features=feats)
    _validate_graph(spec)
    return spec


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidArgument(f"{where} must be a non-empty mapping of name -> settings")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise InvalidArgument(f"{where}: name {key!r} must be an identifier (letters, digits, _)")
    return value


def _check_keys(where: str, d: Mapping[str, Any], allowed: set[str], required: set[str] = frozenset()) -> None:
    unknown = set(d) - allowed
    if unknown:
        raise InvalidArgument(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = set(required) - set(d)
    if missing:
        raise InvalidArgument(f"{where}: missing key(s) {sorted(missing)}")


def _parse_raw(name: str, d: Any) -> RawColumn:
    where = f"raw column {name!r}"
    if not isinstance(d, Mapping):
        raise InvalidArgument(f"{where}: settings must be a mapping like {{dtype: float}}")
    _check_keys(where, d, {"dtype", "default"}, required={"dtype"})
    dtype = d["dtype"]
    if dtype not in DTYPES:
        raise InvalidArgument(f"{where}: dtype {dtype!r} is not one of {DTYPES}")
    default = d.get("default")
    if default is not None:
        if dtype == "string" and not isinstance(default, str):
            raise InvalidArgument(f"{where}: default must be a string")
        if dtype != "string":
            if isinstance(default, bool) or not isinstance(default, (int, float)):
                raise InvalidArgument(f"{where}: default must be a number")
            if dtype == "int" and float(default) != int(default):
                raise InvalidArgument(f"{where}: default of an int column must be integral")
            default = float(default)
    return RawColumn(name=name, dtype=dtype, default=default)


_OP_PARAMS = {
    "identity": set(),
    "scale_to_z_score": set(),
    "vocabulary": {"top_k", "min_frequency", "num_oov_buckets"},
    "bucketize": {"num_buckets"},
    "ngrams": {"ngram_range"},
}


def _parse_feature(name: str, d: Any) -> Feature:
    where = f"feature {name!r}"
    if not isinstance(d, Mapping):
        raise InvalidArgument(f"{where}: settings must be a mapping like {{op: identity, input: x}}")
    op = d.get("op")
    if op not in OPS:
        raise InvalidArgument(f"{where}: op {op!r} is not one of {OPS}")
    _check_keys(where, d, {"op", "input"} | _OP_PARAMS[op], required={"op", "input"})
    kwargs: dict[str, Any] = {}
    for key in ("top_k", "min_frequency", "num_oov_buckets", "num_buckets"):
        if key in d:
            kwargs[key] = _int_param(where, key, d[key])
    if kwargs.get("top_k", 1) < 1 or kwargs.get("min_frequency", 1) < 1:
        raise InvalidArgument(f"{where}: top_k and min_frequency must be >= 1")
    if kwargs.get("num_oov_buckets", 1) < 1:
        # Why: ids must always be valid embedding rows; unknown tokens need a bucket.
        raise InvalidArgument(f"{where}: num_oov_buckets must be >= 1")
    if kwargs.get("num_buckets", 2) < 2:
        raise InvalidArgument(f"{where}: num_buckets must be >= 2")
    if "ngram_range" in d:
        kwargs["ngram_range"] = _ngram_range(where, d["ngram_range"])
    if not isinstance(d["input"], str):
        raise InvalidArgument(f"{where}: input must be a column or feature name")
    return Feature(name=name, op=op, input=d["input"], **kwargs)


def _int_param(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{where}: {key} must be an integer, got {value!r}")
    return value


def _ngram_range(where: str, value: Any) -> tuple[int, int]:
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok or not 1 <= value[0] <= value[1]:
        raise InvalidArgument(f"{where}: ngram_range must be [min_n, max_n] with 1 <= min_n <= max_n")
    return (value[0], value[1])


# Which input kinds each op accepts (output kinds come from TransformSpec.output_kind).
_ACCEPTS = {
    "identity": {"numeric", "string"},
    "scale_to_z_score": {"numeric"},
    "bucketize": {"numeric"},
    "vocabulary": {"string", "tokens"},
    "ngrams": {"string"},
}


def _validate_graph(spec: TransformSpec) -> None:
    names = [c.name for c in spec.raw_columns] + [f.name for f in spec.features]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InvalidArgument(f"names used twice across raw_columns and features: {sorted(dup)}")
    known = set(names)
    for feat in spec.features:
        if feat.input not in known:
            raise InvalidArgument(f"feature {feat.name!r}: input {feat.input!r} is not a raw column or feature")
        _check_no_cycle(spec, feat)
    for feat in spec.features:
        kind = spec.output_kind(feat.input)
        if kind not in _ACCEPTS[feat.op]:
            raise InvalidArgument(
                f"feature {feat.name!r}: op {feat.op} cannot take {kind} input {feat.input!r}"
                f" (accepts {sorted(_ACCEPTS[feat.op])})")


def _check_no_cycle(spec: TransformSpec, feat: Feature) -> None:
    # Each feature has one input, so its chain is a path; revisiting a name is a cycle.
    seen = [feat.name]
    current = spec.feature(feat.input)
    while current is not None:
        if current.name in seen:
            raise InvalidArgument(f"features form a cycle: {' -> '.join(seen + [current.name])}")
        seen.append(current.name)
        current = spec.feature(current.input)
