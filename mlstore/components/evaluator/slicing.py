"""Slice specs and canonical slice keys.

A :class:`SliceSpec` names the features to group by: ``()`` is the whole data set,
``("carrier",)`` gives one slice per carrier, ``("carrier", "origin")`` one slice per
(carrier, origin) pair. A numeric feature may be bucketed by explicit boundaries.

Canonical slice-key strings (what the index and the gates use):

* ``Overall`` -- every example.
* ``feature=value`` joined by ``,`` with feature names sorted alphabetically, e.g.
  ``carrier=AA`` or ``carrier=AA,origin=JFK`` (so ``origin x carrier`` and
  ``carrier x origin`` produce the same keys).
* Bucketed numeric features render the half-open bucket: ``hour=[6,9)``; the outer
  buckets are ``hour=[-inf,6)`` and ``hour=[21,inf)``.
* Integral numbers render without a decimal point (``hour=6``), other floats with
  ``repr`` (``dep_delay=6.5``); missing values render as ``<missing>``.
* ``\\``, ``,``, ``=`` and ``[`` inside a value are escaped with a backslash, so an
  unescaped ``,`` separates features except inside a ``[lo,hi)`` bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from mlstore.errors import DataError, InvalidArgument

OVERALL = "Overall"
MISSING = "<missing>"


@dataclass(frozen=True)
class SliceSpec:
    """Features to slice by; ``features=()`` means the Overall slice.

    Attributes:
        features: feature (column) names; stored sorted so keys are canonical.
        boundaries: ``(feature, (b0, b1, ...))`` pairs for numeric features to bucket
            into ``[-inf,b0), [b0,b1), ..., [bn,inf)``; other features slice per value.
    """

    features: tuple[str, ...] = ()
    boundaries: tuple[tuple[str, tuple[float, ...]], ...] = field(default=())

    def __post_init__(self) -> None:
        feats = tuple(sorted(self.features))
        if len(set(feats)) != len(feats):
            raise InvalidArgument(f"slice spec repeats a feature: {list(self.features)}")
        bounds = tuple(sorted((f, tuple(float(b) for b in bs)) for f, bs in self.boundaries))
        for feat, bs in bounds:
            if feat not in feats:
                raise InvalidArgument(f"slice boundaries given for {feat!r}, which is not sliced")
            if not bs or list(bs) != sorted(set(bs)):
                raise InvalidArgument(f"slice boundaries for {feat!r} must be strictly increasing")
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "boundaries", bounds)

    @classmethod
    def of(cls, *features: str, boundaries: Mapping[str, Any] | None = None) -> "SliceSpec":
        """Build a spec: ``SliceSpec.of("hour", boundaries={"hour": [6, 9, 12]})``."""
        return cls(tuple(features), tuple((boundaries or {}).items()))

    @property
    def is_overall(self) -> bool:
        return not self.features

    def to_dict(self) -> dict:
        """JSON-able form (stored in metrics.json)."""
        return {"features": list(self.features),
                "boundaries": {f: list(bs) for f, bs in self.boundaries}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SliceSpec":
        """Inverse of :meth:`to_dict`."""
        return cls.of(*data.get("features", ()), boundaries=data.get("boundaries") or {})


def format_number(x: float) -> str:
    """Render a number for a slice key: ``6`` not ``6.0``; ``inf``/``-inf`` as such."""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _escape(value: str) -> str:
    for ch in "\\,=[":
        value = value.replace(ch, "\\" + ch)
    return value


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return format_number(float(value))
    return _escape(str(value))


def make_slice_key(pairs: Mapping[str, str] | list[tuple[str, str]]) -> str:
    """Canonical key from already-rendered ``(feature, value)`` pairs; ``Overall`` if empty."""
    items = sorted(dict(pairs).items())
    return ",".join(f"{f}={v}" for f, v in items) if items else OVERALL


def parse_slice_key(key: str) -> tuple[tuple[str, str], ...]:
    """Split a slice key into sorted ``(feature, rendered value)`` pairs.

    ``Overall`` gives ``()``. Escapes are kept in the values so that
    ``make_slice_key(parse_slice_key(k)) == canonical(k)``.

    Raises:
        InvalidArgument: the key is not ``feature=value[,feature=value...]``.
    """
    if key == OVERALL:
        return ()
    parts, cur, i, in_bucket = [], "", 0, False
    while i < len(key):
        ch = key[i]
        if ch == "\\" and i + 1 < len(key):
            cur += key[i:i + 2]
            i += 2
            continue
        if ch == "," and not in_bucket:
            parts.append(cur)
            cur = ""
        else:
            in_bucket = (in_bucket or ch == "[") and ch != ")"
            cur += ch
        i += 1
    parts.append(cur)
    pairs = []
    for part in parts:
        feat, sep, value = _split_unescaped_eq(part)
        if not sep or not feat:
            raise InvalidArgument(f"bad slice key {key!r}: expected feature=value[,feature=value]")
        pairs.append((feat, value))
    if len({f for f, _ in pairs}) != len(pairs):
        raise InvalidArgument(f"bad slice key {key!r}: a feature appears twice")
    return tuple(sorted(pairs))


def _split_unescaped_eq(part: str) -> tuple[str, str, str]:
    i = 0
    while i < len(part):
        if part[i] == "\\":
            i += 2
            continue
        if part[i] == "=":
            return part[:i], "=", part[i + 1:]
        i += 1
    return part, "", ""


def canonical_slice_key(key: str) -> str:
    """Re-render a user-written key canonically (sorted features)."""
    return make_slice_key(list(parse_slice_key(key)))


def slice_features(key: str) -> tuple[str, ...]:
    """Sorted feature names of a slice key (``()`` for Overall)."""
    return tuple(f for f, _ in parse_slice_key(key))


def _feature_codes(column: pd.Series, bounds: tuple[float, ...] | None) -> tuple[np.ndarray, list[str]]:
    """Per-row integer codes and the rendered value of each code (``-1`` never returned)."""
    if bounds is None:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        labels = [_format_value(u) for u in uniques]
        if (codes < 0).any():
            codes = np.where(codes < 0, len(labels), codes)
            labels.append(MISSING)
        return codes.astype(np.int64), labels
    try:
        values = pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"slice feature {column.name!r} has bucket boundaries but is not numeric") from exc
    edges = (-math.inf,) + bounds + (math.inf,)
    labels = [f"[{format_number(lo)},{format_number(hi)})" for lo, hi in zip(edges[:-1], edges[1:])]
    codes = np.searchsorted(np.asarray(bounds), values, side="right")
    codes = np.where(np.isnan(values), len(labels), codes)
    return codes.astype(np.int64), labels + [MISSING]


def assign_slices(batch: pd.DataFrame, spec: SliceSpec) -> tuple[np.ndarray, list[str]]:
    """Group the rows of ``batch`` into the slices of ``spec``.

    Args:
        batch: rows with (at least) the spec's feature columns.
        spec: the slice spec.

    Returns:
        ``(codes, keys)``: ``codes[i]`` is the index in ``keys`` of row ``i``'s slice;
        ``keys`` are canonical slice-key strings, each used by at least one row.

    Raises:
        DataError: a feature column is missing or cannot be bucketed.
    """
    n = len(batch)
    if spec.is_overall:
        return np.zeros(n, dtype=np.int64), [OVERALL]
    bounds = dict(spec.boundaries)
    combined = np.zeros(n, dtype=np.int64)
    per_feature: list[list[str]] = []
    for feat in spec.features:
        if feat not in batch.columns:
            raise DataError(f"slice feature {feat!r} is not a column of the evaluation data")
        codes, labels = _feature_codes(batch[feat], bounds.get(feat))
        # Mixed-radix code of the cross; factorized below so only observed crosses remain.
        combined = combined * (len(labels) + 1) + codes
        per_feature.append(labels)
    uniq, inverse = np.unique(combined, return_inverse=True)
    keys = []
    for code in uniq:
        values = []
        for labels in reversed(per_feature):
            code, digit = divmod(int(code), len(labels) + 1)
            values.append(labels[digit])
        keys.append(make_slice_key(list(zip(spec.features, reversed(values)))))
    return inverse.astype(np.int64), keys
