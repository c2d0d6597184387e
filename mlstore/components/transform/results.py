"""Analyzer results: typed dataclasses and their JSON form (``analyzers.json``).

JSON layout (``format_version`` 1)::

    {"format_version": 1, "spec_digest": "...", "spec": {...canonical spec...},
     "num_rows_analyzed": 840, "num_malformed_rows": 0, "num_dropped_rows": 0,
     "malformed_examples": [{"path", "row", "column", "value", "reason"}, ...],
     "features": {
        "distance_z": {"kind": "z_score", "count": 840, "mean": ..., "variance": ...},
        "carrier_id": {"kind": "vocabulary", "tokens": [...], "counts": [...],
                       "num_oov_buckets": 1, "num_distinct": 12},
        "hour_bucket": {"kind": "quantiles", "boundaries": [...], "num_buckets": 4}}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from mlstore.components.transform.rawio import MalformedRow
from mlstore.components.transform.spec import TransformSpec, parse_spec

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ZScoreStats:
    """Exact count, mean and population variance of a numeric feature."""

    count: int
    mean: float
    variance: float

    @property
    def std(self) -> float:
        """Population standard deviation (divides by count, not count - 1)."""
        return math.sqrt(self.variance)


@dataclass(frozen=True)
class VocabularyResult:
    """Ranked vocabulary: id i is tokens[i]; ids >= len(tokens) are OOV buckets."""

    tokens: tuple[str, ...]
    counts: tuple[int, ...]
    num_oov_buckets: int
    num_distinct: int

    @property
    def size(self) -> int:
        """Number of distinct ids, OOV buckets included."""
        return len(self.tokens) + self.num_oov_buckets


@dataclass(frozen=True)
class QuantileResult:
    """Sorted, de-duplicated interior bucket boundaries (approximate quantiles)."""

    boundaries: tuple[float, ...]
    num_buckets: int


FeatureResult = ZScoreStats | VocabularyResult | QuantileResult


@dataclass(frozen=True)
class AnalyzerResults:
    """Everything the analyze phase learned; baked into the transform graph."""

    spec: TransformSpec
    num_rows_analyzed: int
    num_malformed_rows: int
    num_dropped_rows: int
    malformed_examples: tuple[MalformedRow, ...]
    features: dict[str, FeatureResult] = field(default_factory=dict)

    @property
    def spec_digest(self) -> str:
        return self.spec.digest()

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (layout in the module docstring)."""
        return {
            "format_version": FORMAT_VERSION,
            "spec_digest": self.spec_digest,
            "spec": self.spec.to_dict(),
            "num_rows_analyzed": self.num_rows_analyzed,
            "num_malformed_rows": self.num_malformed_rows,
            "num_dropped_rows": self.num_dropped_rows,
            "malformed_examples": [m.__dict__ for m in self.malformed_examples],
            "features": {k: _result_to_dict(v) for k, v in self.features.items()},
        }

    def write_json(self, path: str) -> None:
        """Write :meth:`to_json_dict` to ``path`` (sorted keys, indented)."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_json_dict(), fh, sort_keys=True, indent=1)
            fh.write("\n")


def _result_to_dict(r: FeatureResult) -> dict[str, Any]:
    if isinstance(r, ZScoreStats):
        return {"kind": "z_score", "count": r.count, "mean": r.mean, "variance": r.variance}
    if isinstance(r, VocabularyResult):
        return {"kind": "vocabulary", "tokens": list(r.tokens), "counts": list(r.counts),
                "num_oov_buckets": r.num_oov_buckets, "num_distinct": r.num_distinct}
    return {"kind": "quantiles", "boundaries": list(r.boundaries), "num_buckets": r.num_buckets}


def result_from_dict(d: dict[str, Any]) -> FeatureResult:
    """Inverse of the per-feature JSON form."""
    if d["kind"] == "z_score":
        return ZScoreStats(count=d["count"], mean=d["mean"], variance=d["variance"])
    if d["kind"] == "vocabulary":
        return VocabularyResult(tokens=tuple(d["tokens"]), counts=tuple(d["counts"]),
                                num_oov_buckets=d["num_oov_buckets"], num_distinct=d["num_distinct"])
    return QuantileResult(boundaries=tuple(d["boundaries"]), num_buckets=d["num_buckets"])


def results_from_json_dict(d: dict[str, Any]) -> AnalyzerResults:
    """Inverse of :meth:`AnalyzerResults.to_json_dict`."""
    return AnalyzerResults(
        spec=parse_spec(d["spec"]),
        num_rows_analyzed=d["num_rows_analyzed"],
        num_malformed_rows=d["num_malformed_rows"],
        num_dropped_rows=d["num_dropped_rows"],
        malformed_examples=tuple(MalformedRow(**m) for m in d["malformed_examples"]),
        features={k: result_from_dict(v) for k, v in d["features"].items()},
    )


def read_results_json(path: str) -> AnalyzerResults:
    """Load ``analyzers.json`` written by :meth:`AnalyzerResults.write_json`."""
    with open(path, encoding="utf-8") as fh:
        return results_from_json_dict(json.load(fh))
