"""Cached reads for the Data page: a pipeline's ExampleStatistics and ExampleAnomalies
(mlstore's or TFX's, in TFX's ``Split-<name>/`` layouts) read through the store's verified
reads (``Store.local_path``), and the per-feature tables built from them with the
statistics components' summaries and distances (the ones ``mlstore stats`` and
ExampleValidator use).

An artifact's bytes never change, so what one artifact parses to is cached by its id;
the per-pipeline lists and tables are keyed on the store version like ``data.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from mlstore import errors
from mlstore._dashboard import data
from mlstore.components.statistics import layout, summary
from mlstore.components.statistics.curate import newest_schema
from mlstore.components.statistics.distance import L_INFTY
from mlstore.components.statistics.schema_gen import feature_name
from mlstore.types import Artifact

STATISTICS, ANOMALIES, SCHEMA, MODEL = "ExampleStatistics", "ExampleAnomalies", "Schema", "Model"
#: Bars of a string feature's distribution (its most frequent values).
DISTRIBUTION_VALUES = 20
#: Why an artifact's bytes could not be shown (anything else is a bug and raises).
UNREADABLE = (errors.DataError, errors.NotFound, errors.IntegrityError, errors.PermissionDenied,
              errors.FailedPrecondition)


@dataclass(frozen=True)
class Recorded:
    """One artifact and its protos by split (``problem`` says why there are none)."""

    artifact: Artifact
    splits: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


@st.cache_resource(show_spinner=False, max_entries=8192)
def _protos(uri: str | None, artifact_id: int, type_name: str, _artifact: Artifact) -> dict[str, Any]:
    """The protos of one artifact by split (shared: never mutate them)."""
    path = data.store().local_path(_artifact)
    return layout.read_statistics(path) if type_name == STATISTICS else layout.read_anomalies(path)


def _read(uri: str | None, artifact: Artifact) -> Recorded:
    try:
        return Recorded(artifact, _protos(uri, artifact.id, artifact.type, artifact))
    except UNREADABLE as e:
        return Recorded(artifact, {}, str(e))


def span_order(a: Artifact) -> tuple[int, int]:
    """(span, id): oldest span first, no span before any; within a span, logged order."""
    return (-1 if a.span is None else a.span, a.id)


@st.cache_resource(show_spinner=False, max_entries=64)
def recorded(uri: str | None, ver: int, pipeline: str, type_name: str) -> list[Recorded]:
    """Every live ExampleStatistics or ExampleAnomalies of the pipeline, read, by (span, id)."""
    found = [a for a in data.store().artifacts(type=type_name, pipeline=pipeline) if a.state != "DELETED"]
    return [_read(uri, a) for a in sorted(found, key=span_order)]


def daily(entries: list[Recorded], reruns: dict[int, int]) -> list[Recorded]:
    """The newest readable entry of each span (reruns only when a span has nothing else), by span."""
    best: dict[int, Recorded] = {}
    for e in entries:
        span = e.artifact.span
        if not e.splits or span is None:
            continue
        held = best.get(span)
        if held is None or (held.artifact.id in reruns) >= (e.artifact.id in reruns):
            best[span] = e
    return [best[s] for s in sorted(best)]


def default_comparison(readable: list[Recorded], current: Recorded, reruns: dict[int, int]) -> int | None:
    """The id of the statistics to compare ``current`` with by default: the newest (by span,
    then id) of an earlier span, not a rerun when there is another; else the one logged just
    before ``current`` (spans missing or all equal, as TFX's StatisticsGen records); else None."""
    span = current.artifact.span
    earlier = [e for e in readable if span is not None and e.artifact.span is not None and e.artifact.span < span]
    preferred = [e for e in earlier if e.artifact.id not in reruns] or earlier
    if preferred:
        return max(preferred, key=lambda e: (e.artifact.span, e.artifact.id)).artifact.id
    before = [e.artifact.id for e in readable if e.artifact.id < current.artifact.id]
    return max(before) if before else None


@st.cache_resource(show_spinner=False, max_entries=64)
def drift_thresholds(uri: str | None, ver: int, pipeline: str) -> tuple[dict[str, float], int | None]:
    """(feature -> drift threshold of the pipeline's newest Schema, that schema's id); ({}, None) without one."""
    schema = newest_schema(data.store(), pipeline)
    if schema is None:
        return {}, None
    try:
        return summary.drift_thresholds(layout.read_schema(data.store().local_path(schema))), schema.id
    except UNREADABLE:
        return {}, None


# -- tables ------------------------------------------------------------------------------

def distribution(feature) -> list[float]:
    """Bar heights of a feature: its standard histogram's buckets (numbers) or its most
    frequent values' counts (strings)."""
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        for histogram in feature.num_stats.histograms:
            if histogram.type == histogram.STANDARD:
                return [float(b.sample_count) for b in histogram.buckets]
        return []
    if kind == "string_stats":
        s = feature.string_stats
        counts = [b.sample_count for b in s.rank_histogram.buckets] or [t.frequency for t in s.top_values]
        return [float(c) for c in counts[:DISTRIBUTION_VALUES]]
    return []


FEATURE_COLUMNS = ["feature", "type", "count", "missing", "missing %", "zeros %", "mean", "std", "min", "median",
                   "max", "unique", "top values", "distribution"]


def feature_table(dataset) -> pd.DataFrame:
    """One row per feature (sorted by name), Facets Overview's figures.

    ``missing %`` is of the examples; ``zeros %`` of the examples with a value.
    """
    protos = {feature_name(f): f for f in dataset.features}
    n = int(dataset.num_examples)
    rows = []
    for r in summary.feature_summary(dataset):
        count = r["count"]
        rows.append({
            "feature": r["feature"], "type": r["type"], "count": count, "missing": r["missing"],
            "missing %": 100.0 * r["missing"] / n if n else None,
            "zeros %": 100.0 * r["zeros"] / count if "zeros" in r and count else None,
            "mean": r.get("mean"), "std": r.get("std_dev"), "min": r.get("min"), "median": r.get("median"),
            "max": r.get("max"), "unique": r.get("unique"),
            "top values": ", ".join(f"{t['value']} ({t['count']})" for t in r.get("top_values", [])) or None,
            "distribution": distribution(protos[r["feature"]]),
        })
    return pd.DataFrame(rows, columns=FEATURE_COLUMNS)


def metric_label(kind: str) -> str:
    """How the page names a distance kind."""
    return "L-infinity" if kind == L_INFTY else "Jensen-Shannon"


def drift_table(previous, current, thresholds: dict[str, float]) -> pd.DataFrame:
    """Per feature of either side: drift of ``current`` from ``previous`` (L-infinity for
    strings, Jensen-Shannon divergence for numbers, as ExampleValidator measures it), its
    threshold (the schema's, else the default) and whether it is over; by feature name."""
    rows = summary.drift_rows(previous, current, thresholds, summary.DEFAULT_DRIFT_THRESHOLD)
    frame = pd.DataFrame(rows, columns=["feature", "metric", "distance", "threshold", "over_threshold", "value_at"])
    frame["metric"] = frame["metric"].map(metric_label)
    return frame.rename(columns={"distance": "drift", "over_threshold": "over threshold", "value_at": "worst value"}
                        ).sort_values("feature", ignore_index=True)


def side_by_side(current, previous, thresholds: dict[str, float]) -> pd.DataFrame:
    """Drift per feature with both sides' count, missing %, mean or top values and distribution."""
    keep = ["feature", "count", "missing %", "mean", "top values", "distribution"]
    a = feature_table(current)[keep]
    b = feature_table(previous)[keep]
    merged = drift_table(previous, current, thresholds).merge(a, on="feature", how="left").merge(
        b, on="feature", how="left", suffixes=("", " (compared)"))
    return merged


@st.cache_data(show_spinner=False, max_entries=64)
def drift_over_days(uri: str | None, ver: int, pipeline: str, split: str) -> pd.DataFrame:
    """Columns span, previous_span, feature, metric, drift, artifact_id: each span's drift from the span before
    (the newest statistics of each span; spans without ``split`` are left out)."""
    entries = [e for e in daily(recorded(uri, ver, pipeline, STATISTICS), data.rerun_outputs(uri, ver, pipeline))
               if split in e.splits]
    rows = []
    for before, after in zip(entries, entries[1:]):  # plain rows, not a drift_table per day: 3x faster
        for r in summary.drift_rows(before.splits[split], after.splits[split], {}, summary.DEFAULT_DRIFT_THRESHOLD):
            rows.append({"span": after.artifact.span, "previous_span": before.artifact.span, "feature": r["feature"],
                         "metric": metric_label(r["metric"]), "drift": r["distance"], "artifact_id": after.artifact.id})
    return pd.DataFrame(rows, columns=["span", "previous_span", "feature", "metric", "drift", "artifact_id"])


@st.cache_data(show_spinner=False, max_entries=64)
def models_by_span(uri: str | None, ver: int, pipeline: str) -> tuple[dict[int, list[int]], dict[int, int]]:
    """({span: ids of the live Models of that span}, {span: its daily model id}) of the pipeline."""
    s = data.store()
    found: dict[int, list[int]] = {}
    for m in s.artifacts(type=MODEL, pipeline=pipeline):
        if m.span is not None and m.state != "DELETED":
            found.setdefault(m.span, []).append(m.id)
    daily_models = {m.span: m.id for m in s.daily_models(pipeline)} if found else {}
    return found, daily_models


DAY_COLUMNS = ["span", "anomalies", "splits", "anomalous features", "features", "model", "models"]
DETAIL_COLUMNS = ["span", "split", "feature", "anomaly", "types", "description", "anomalies"]


@st.cache_data(show_spinner=False, max_entries=64)
def anomalies_by_day(uri: str | None, ver: int, pipeline: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per readable ExampleAnomalies: span, artifact, splits, count and names of the
    anomalous features, the span's daily model and all its models; one row per anomalous
    feature per split), newest span first."""
    models, daily_models = models_by_span(uri, ver, pipeline)
    days, details = [], []
    for e in reversed(recorded(uri, ver, pipeline, ANOMALIES)):
        if not e.splits:
            continue
        span = e.artifact.span
        names: set[str] = set()
        for split, anomalies in sorted(e.splits.items()):
            for r in summary.anomalies_summary(anomalies):
                names.add(r["feature"])
                details.append({"span": span, "split": split, "feature": r["feature"],
                                "anomaly": r["short_description"], "types": ", ".join(r["types"]),
                                "description": r["description"], "anomalies": e.artifact.id})
        daily_model = daily_models.get(span)
        days.append({"span": span, "anomalies": e.artifact.id, "splits": ", ".join(sorted(e.splits)),
                     "anomalous features": len(names), "features": ", ".join(sorted(names)),
                     "model": f"model?model={daily_model}" if daily_model else None,
                     "models": ", ".join(f"artifact:{m}" for m in models.get(span, []))})
    return pd.DataFrame(days, columns=DAY_COLUMNS), pd.DataFrame(details, columns=DETAIL_COLUMNS)
