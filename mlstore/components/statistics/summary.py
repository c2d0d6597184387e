"""Plain-dict summaries of statistics, schemas and anomalies (what the CLI prints and ``--json`` emits).

Works on any TFDV protos, whoever wrote them (mlstore's StatisticsGen or TFX's).
"""

from __future__ import annotations

from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from mlstore import errors
from mlstore.components.statistics.distance import feature_distance
from mlstore.components.statistics.schema_gen import common_stats, feature_name

NUM_TOP = 3
#: Drift threshold of features whose schema sets none (``mlstore stats diff``, the Data page).
DEFAULT_DRIFT_THRESHOLD = 0.1


def feature_summary(dataset: statistics_pb2.DatasetFeatureStatistics) -> list[dict[str, Any]]:
    """One dict per feature (sorted by name): type, count, missing, numeric or string figures."""
    rows = []
    for feature in sorted(dataset.features, key=feature_name):
        common = common_stats(feature)
        row: dict[str, Any] = {
            "feature": feature_name(feature),
            "type": statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
            "count": int(common.num_non_missing), "missing": int(common.num_missing),
        }
        if feature.WhichOneof("stats") == "num_stats":
            num = feature.num_stats
            row.update(mean=num.mean, std_dev=num.std_dev, min=num.min, median=num.median, max=num.max,
                       zeros=int(num.num_zeros))
        elif feature.WhichOneof("stats") == "string_stats":
            s = feature.string_stats
            row.update(unique=int(s.unique), avg_length=s.avg_length,
                       top_values=[{"value": t.value, "count": int(t.frequency)} for t in s.top_values[:NUM_TOP]])
        rows.append(row)
    return rows


def splits_summary(datasets: dict[str, statistics_pb2.DatasetFeatureStatistics], split: str | None,
                   node: object) -> dict[str, dict[str, Any]]:
    """Split name (sorted) -> ``{"num_examples", "features": feature_summary(...)}``; only
    ``split`` when given (``mlstore stats show``, DataService/GetStatistics).

    Raises:
        InvalidArgument: ``node`` (named in the message) has no split ``split``.
    """
    if split is not None and split not in datasets:
        raise errors.InvalidArgument(f"{node} has no split {split!r}; splits: {', '.join(sorted(datasets))}")
    chosen = {split: datasets[split]} if split is not None else datasets
    return {name: {"num_examples": int(d.num_examples), "features": feature_summary(d)}
            for name, d in sorted(chosen.items())}


def splits_drift(a: dict[str, statistics_pb2.DatasetFeatureStatistics],
                 b: dict[str, statistics_pb2.DatasetFeatureStatistics], split: str | None,
                 thresholds: dict[str, float], default_threshold: float,
                 names: tuple[object, object] = ("a", "b")) -> list[dict[str, Any]]:
    """:func:`drift_rows` of every split both sides have (or only ``split``), each row with
    its ``split`` first; over-threshold rows of every split first (``mlstore stats diff``,
    DataService/DiffStatistics). ``names`` name the sides in error messages.

    Raises:
        InvalidArgument: no split in common, ``split`` not in both, threshold outside [0, 1].
    """
    if not 0 <= default_threshold <= 1:
        raise errors.InvalidArgument(f"threshold must be in [0, 1], got {default_threshold}")
    common = sorted(set(a) & set(b))
    if not common:
        raise errors.InvalidArgument(f"{names[0]} and {names[1]} have no split in common "
                                     f"({', '.join(sorted(a))} vs {', '.join(sorted(b))})")
    if split is not None and split not in common:
        raise errors.InvalidArgument(f"split {split!r} is not in both; common splits: {', '.join(common)}")
    rows = [{"split": s, **row} for s in ([split] if split else common)
            for row in drift_rows(a[s], b[s], thresholds, default_threshold)]
    return sorted(rows, key=lambda r: not r["over_threshold"])  # stable: keeps each split's order


def drift_rows(a: statistics_pb2.DatasetFeatureStatistics, b: statistics_pb2.DatasetFeatureStatistics,
               thresholds: dict[str, float], default_threshold: float) -> list[dict[str, Any]]:
    """Per feature of either side: the distance of ``b`` from ``a`` and whether it is over its
    threshold; features over the threshold first, then by distance (largest first), then name."""
    fa = {feature_name(f): f for f in a.features}
    fb = {feature_name(f): f for f in b.features}
    rows = []
    for name in sorted(set(fa) | set(fb)):
        distance = feature_distance(fa.get(name), fb.get(name))
        threshold = thresholds.get(name, default_threshold)
        rows.append({"feature": name, "metric": distance.kind, "distance": distance.value, "threshold": threshold,
                     "over_threshold": distance.value > threshold, "value_at": distance.value_at})
    return sorted(rows, key=lambda r: (not r["over_threshold"], -r["distance"], r["feature"]))


def drift_thresholds(schema: schema_pb2.Schema | None) -> dict[str, float]:
    """Feature -> the threshold of its ``drift_comparator`` (L-infinity or Jensen-Shannon)."""
    features = schema.feature if schema is not None else ()
    return {f.name: t for f in features if (t := _threshold(f.drift_comparator)) is not None}


def schema_summary(schema: schema_pb2.Schema) -> list[dict[str, Any]]:
    """One dict per schema feature: type, presence, value count, domain size, comparator thresholds."""
    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for f in schema.feature:
        domain = domains.get(f.domain) if f.HasField("domain") else (
            list(f.string_domain.value) if f.HasField("string_domain") else None)
        shape = [d.size for d in f.shape.dim] if f.HasField("shape") else None
        rows.append({
            "feature": f.name, "type": schema_pb2.FeatureType.Name(f.type),
            "min_fraction": f.presence.min_fraction if f.presence.HasField("min_fraction") else None,
            "min_count": f.presence.min_count if f.presence.HasField("min_count") else None,
            "shape": shape,
            "value_count": [f.value_count.min, f.value_count.max] if f.HasField("value_count") else None,
            "domain": domain,
            "drift_threshold": _threshold(f.drift_comparator),
            "skew_threshold": _threshold(f.skew_comparator),
        })
    return rows


def _threshold(comparator: schema_pb2.FeatureComparator) -> float | None:
    if comparator.HasField("infinity_norm"):
        return comparator.infinity_norm.threshold
    if comparator.HasField("jensen_shannon_divergence"):
        return comparator.jensen_shannon_divergence.threshold
    return None


def anomalies_summary(anomalies: anomalies_pb2.Anomalies) -> list[dict[str, Any]]:
    """One dict per anomalous feature (sorted): its anomaly types and descriptions."""
    return [{"feature": name, "short_description": info.short_description, "description": info.description,
             "types": [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason]}
            for name, info in sorted(anomalies.anomaly_info.items())]
