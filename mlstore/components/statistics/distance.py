"""Distances between two statistics of one feature, as TFDV's comparators define them.

* **L-infinity** (string features, ``infinity_norm``): the largest absolute difference
  between the two normalised value distributions (over the values of both rank
  histograms), in [0, 1]; also names the value where it is reached.
* **Jensen-Shannon divergence** (numeric features, ``jensen_shannon_divergence``): the
  two standard histograms are re-bucketed onto the union of their boundaries, each
  bucket's mass spread uniformly over its width (a zero-width bucket, e.g. of a constant
  feature, is a point mass with a bin of its own),
  then ``JSD(P, Q) = (KL(P||M) + KL(Q||M)) / 2`` with ``M = (P + Q) / 2`` in base 2, in [0, 1].

A feature with values on one side only is at distance 1 (nothing in common); with
values on neither side at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

L_INFTY = "L_INFTY"
JENSEN_SHANNON_DIVERGENCE = "JENSEN_SHANNON_DIVERGENCE"


@dataclass(frozen=True)
class Distance:
    """One feature's distance between two statistics; ``value_at`` names the string value
    where the L-infinity distance is reached."""

    kind: str
    value: float
    value_at: str | None = None


def is_numeric(feature: statistics_pb2.FeatureNameStatistics | None) -> bool:
    return feature is not None and feature.WhichOneof("stats") == "num_stats"


def _distribution(feature: statistics_pb2.FeatureNameStatistics | None) -> dict[str, float]:
    if feature is None or feature.WhichOneof("stats") != "string_stats":
        return {}
    stats = feature.string_stats
    pairs = ([(b.label, b.sample_count) for b in stats.rank_histogram.buckets]
             or [(t.value, t.frequency) for t in stats.top_values])
    total = sum(c for _, c in pairs)
    return {label: count / total for label, count in pairs} if total else {}


def l_infinity(a: statistics_pb2.FeatureNameStatistics | None,
               b: statistics_pb2.FeatureNameStatistics | None) -> Distance:
    """L-infinity distance of two string features' value distributions."""
    pa, pb = _distribution(a), _distribution(b)
    if not pa or not pb:
        return Distance(L_INFTY, 0.0 if not pa and not pb else 1.0)
    worst, value = max(((abs(pa.get(v, 0.0) - pb.get(v, 0.0)), v) for v in sorted(set(pa) | set(pb))),
                       key=lambda t: t[0])
    return Distance(L_INFTY, float(worst), value)


def _standard_histogram(feature) -> list[tuple[float, float, float]]:
    if not is_numeric(feature):
        return []
    for histogram in feature.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.STANDARD:
            return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets if b.sample_count > 0]
    return []


def _rebucket(buckets: list[tuple[float, float, float]], edges: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Masses on the intervals between ``edges``, then one bin per point mass value in ``points``."""
    out = np.zeros(max(len(edges) - 1, 0) + len(points))
    for low, high, count in buckets:
        if high <= low:
            out[len(edges) - 1 + int(np.searchsorted(points, low))] += count
            continue
        overlap = np.clip(np.minimum(edges[1:], high) - np.maximum(edges[:-1], low), 0, None)
        out[:len(edges) - 1] += count * overlap / (high - low)
    return out


def jensen_shannon(a: statistics_pb2.FeatureNameStatistics | None,
                   b: statistics_pb2.FeatureNameStatistics | None) -> Distance:
    """Approximate Jensen-Shannon divergence (base 2) of two numeric features' standard histograms."""
    ha, hb = _standard_histogram(a), _standard_histogram(b)
    if not ha or not hb:
        return Distance(JENSEN_SHANNON_DIVERGENCE, 0.0 if not ha and not hb else 1.0)
    edges = np.unique([x for low, high, _ in ha + hb if high > low for x in (low, high)])
    points = np.unique([low for low, high, _ in ha + hb if high <= low])
    p, q = _rebucket(ha, edges, points), _rebucket(hb, edges, points)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return Distance(JENSEN_SHANNON_DIVERGENCE, float(min(max((kl_p + kl_q) / 2, 0.0), 1.0)))


def feature_distance(a: statistics_pb2.FeatureNameStatistics | None,
                     b: statistics_pb2.FeatureNameStatistics | None) -> Distance:
    """Jensen-Shannon divergence when either side is numeric, else L-infinity."""
    return jensen_shannon(a, b) if is_numeric(a) or is_numeric(b) else l_infinity(a, b)
