"""DataService messages <-> the dicts of :mod:`mlstore.components.statistics.reads`, for the
server and :mod:`mlstore.client` (a dict survives the round trip unchanged)."""

from __future__ import annotations

from typing import Any

from mlstore.server.convert import optional_field
from mlstore.v1 import data_service_pb2 as dpb

_NUMERIC = ("mean", "std_dev", "min", "median", "max", "zeros")


def _feature_to_pb(row: dict[str, Any]) -> dpb.FeatureStatistics:
    numbers = {k: row[k] for k in (*_NUMERIC, "unique", "avg_length") if k in row}
    return dpb.FeatureStatistics(name=row["feature"], type=row["type"], count=row["count"], missing=row["missing"],
                                 top_values=[dpb.TopValue(value=t["value"], count=t["count"])
                                             for t in row.get("top_values", ())], **numbers)


def _feature_from_pb(m: dpb.FeatureStatistics) -> dict[str, Any]:
    row: dict[str, Any] = {"feature": m.name, "type": m.type, "count": m.count, "missing": m.missing}
    if m.HasField("mean"):
        row.update({k: getattr(m, k) for k in _NUMERIC})
    if m.HasField("unique"):
        row.update(unique=m.unique, avg_length=m.avg_length,
                   top_values=[{"value": t.value, "count": t.count} for t in m.top_values])
    return row


def statistics_to_pb(report: dict[str, Any]) -> dpb.GetStatisticsResponse:
    return dpb.GetStatisticsResponse(artifact=report["artifact"], span=report["span"], splits=[
        dpb.SplitStatistics(split=name, num_examples=s["num_examples"],
                            features=[_feature_to_pb(r) for r in s["features"]])
        for name, s in report["splits"].items()])


def statistics_from_pb(m: dpb.GetStatisticsResponse) -> dict[str, Any]:
    return {"artifact": m.artifact, "span": optional_field(m, "span"),
            "splits": {s.split: {"num_examples": s.num_examples, "features": [_feature_from_pb(f) for f in s.features]}
                       for s in m.splits}}


def drift_to_pb(report: dict[str, Any]) -> dpb.DiffStatisticsResponse:
    return dpb.DiffStatisticsResponse(a=report["a"], b=report["b"], over_threshold=report["over_threshold"], features=[
        dpb.DriftRow(split=r["split"], feature=r["feature"], metric=r["metric"], distance=r["distance"],
                     threshold=r["threshold"], over_threshold=r["over_threshold"], value_at=r["value_at"])
        for r in report["features"]])


def drift_from_pb(m: dpb.DiffStatisticsResponse) -> dict[str, Any]:
    rows = [{"split": r.split, "feature": r.feature, "metric": r.metric, "distance": r.distance,
             "threshold": r.threshold, "over_threshold": r.over_threshold,
             "value_at": optional_field(r, "value_at")} for r in m.features]
    return {"a": m.a, "b": m.b, "features": rows, "over_threshold": m.over_threshold}


def anomalies_to_pb(report: dict[str, Any]) -> dpb.GetAnomaliesResponse:
    splits = [dpb.SplitAnomalies(split=name, features=[dpb.FeatureAnomaly(**r) for r in rows])
              for name, rows in report["splits"].items()]
    return dpb.GetAnomaliesResponse(artifact=report["artifact"], anomalous_features=report["anomalous_features"],
                                    splits=splits)


def anomalies_from_pb(m: dpb.GetAnomaliesResponse) -> dict[str, Any]:
    splits = {s.split: [{"feature": f.feature, "short_description": f.short_description,
                         "description": f.description, "types": list(f.types)} for f in s.features]
              for s in m.splits}
    return {"artifact": m.artifact, "splits": splits, "anomalous_features": m.anomalous_features}


def _schema_feature_to_pb(r: dict[str, Any]) -> dpb.SchemaFeature:
    return dpb.SchemaFeature(
        feature=r["feature"], type=r["type"], min_fraction=r["min_fraction"], min_count=r["min_count"],
        shape=dpb.Dims(sizes=r["shape"]) if r["shape"] is not None else None,
        value_count=dpb.ValueCount(min=r["value_count"][0], max=r["value_count"][1])
        if r["value_count"] is not None else None,
        domain=dpb.StringValues(values=r["domain"]) if r["domain"] is not None else None,
        drift_threshold=r["drift_threshold"], skew_threshold=r["skew_threshold"])


def _schema_feature_from_pb(m: dpb.SchemaFeature) -> dict[str, Any]:
    return {"feature": m.feature, "type": m.type, "min_fraction": optional_field(m, "min_fraction"),
            "min_count": optional_field(m, "min_count"),
            "shape": list(m.shape.sizes) if m.HasField("shape") else None,
            "value_count": [m.value_count.min, m.value_count.max] if m.HasField("value_count") else None,
            "domain": list(m.domain.values) if m.HasField("domain") else None,
            "drift_threshold": optional_field(m, "drift_threshold"),
            "skew_threshold": optional_field(m, "skew_threshold")}


def schema_to_pb(report: dict[str, Any]) -> dpb.GetSchemaResponse:
    return dpb.GetSchemaResponse(artifact=report["artifact"],
                                 features=[_schema_feature_to_pb(r) for r in report["features"]])


def schema_from_pb(m: dpb.GetSchemaResponse) -> dict[str, Any]:
    return {"artifact": m.artifact, "features": [_schema_feature_from_pb(f) for f in m.features]}
