"""The data-validation reads of a store, as plain dicts: what ``mlstore stats show|diff``,
``mlstore schema show``, ``mlstore anomalies`` print (``--json``) and DataService answers.

Each takes a local :class:`~mlstore.store.Store` (the server's or the CLI's); a
:class:`~mlstore.client.RemoteStore` answers the same dicts through DataService.
"""

from __future__ import annotations

from typing import Any

from mlstore import errors
from mlstore.components.statistics import layout, summary
from mlstore.types import Artifact

STATISTICS, SCHEMA, ANOMALIES = "ExampleStatistics", "Schema", "ExampleAnomalies"


def typed_artifact(store, ref: Any, type_name: str) -> Artifact:
    """The artifact ``ref`` names, checked to be of ``type_name``.

    Raises:
        NotFound: no such artifact. InvalidArgument: of another type.
    """
    artifact = store.artifact(ref)
    if artifact.type != type_name:
        raise errors.InvalidArgument(f"{artifact.node_id} is of type {artifact.type}, not {type_name}")
    return artifact


def statistics_report(store, ref: Any, split: str | None = None) -> dict[str, Any]:
    """``{"artifact", "span", "splits": summary.splits_summary(...)}`` of an ExampleStatistics.

    Raises:
        NotFound: unknown ref. InvalidArgument: not ExampleStatistics, unknown split.
    """
    artifact = typed_artifact(store, ref, STATISTICS)
    datasets = layout.read_statistics(store.local_path(artifact))
    return {"artifact": str(artifact.node_id), "span": artifact.span,
            "splits": summary.splits_summary(datasets, split, artifact.node_id)}


def drift_report(store, a: Any, b: Any, *, split: str | None = None,
                 threshold: float = summary.DEFAULT_DRIFT_THRESHOLD, schema: Any = None) -> dict[str, Any]:
    """Drift of ExampleStatistics ``b`` from ``a``: ``{"a", "b", "features": rows of
    summary.splits_drift, "over_threshold": count}``; ``schema`` (a Schema ref) gives
    per-feature thresholds, ``threshold`` applies to the features it gives none.

    Raises:
        NotFound: unknown ref. InvalidArgument: wrong artifact types, no common split,
            unknown split, threshold outside [0, 1].
    """
    first, second = typed_artifact(store, a, STATISTICS), typed_artifact(store, b, STATISTICS)
    parsed = layout.read_schema(store.local_path(typed_artifact(store, schema, SCHEMA))) if schema else None
    rows = summary.splits_drift(layout.read_statistics(store.local_path(first)),
                                layout.read_statistics(store.local_path(second)), split,
                                summary.drift_thresholds(parsed), threshold, (first.node_id, second.node_id))
    return {"a": str(first.node_id), "b": str(second.node_id), "features": rows,
            "over_threshold": sum(r["over_threshold"] for r in rows)}


def anomalies_report(store, ref: Any) -> dict[str, Any]:
    """``{"artifact", "splits": {split: summary.anomalies_summary(...)}, "anomalous_features"}``
    of an ExampleAnomalies artifact.

    Raises:
        NotFound: unknown ref. InvalidArgument: not ExampleAnomalies.
    """
    artifact = typed_artifact(store, ref, ANOMALIES)
    splits = {name: summary.anomalies_summary(a)
              for name, a in sorted(layout.read_anomalies(store.local_path(artifact)).items())}
    return {"artifact": str(artifact.node_id), "splits": splits,
            "anomalous_features": sum(len(rows) for rows in splits.values())}


def schema_report(store, ref: Any) -> dict[str, Any]:
    """``{"artifact", "features": summary.schema_summary(...)}`` of a Schema artifact.

    Raises:
        NotFound: unknown ref. InvalidArgument: not a Schema.
    """
    artifact = typed_artifact(store, ref, SCHEMA)
    return {"artifact": str(artifact.node_id),
            "features": summary.schema_summary(layout.read_schema(store.local_path(artifact)))}
