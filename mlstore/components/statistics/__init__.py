"""Data statistics, schema and validation per span, in TFDV's formats (TFX's StatisticsGen,
SchemaGen and ExampleValidator).

Modules: ``columns`` (reading an Examples split, type inference), ``quantiles``
(quantiles and histogram counts from Apache DataSketches' KLL sketch, its error bound),
``feature_stats`` (mergeable accumulators -> ``FeatureNameStatistics``; what is exact,
what is approximate), ``pipeline`` (the Beam pass, :func:`generate_statistics`),
``layout`` (TFX's file layouts), ``schema_gen`` (:func:`infer_schema`), ``distance``
(L-infinity, Jensen-Shannon), ``validate`` (:func:`validate_statistics`), ``curate`` (an
edited schema logged as a new version), ``summary`` (plain dicts for the CLI), ``reads``
(those dicts of a store's artifacts: the CLI and DataService), ``steps``
(the StatisticsGen, SchemaGen and ExampleValidator pipeline steps).

Typical use::

    from mlstore.components.statistics import generate_statistics, infer_schema, validate_statistics
    stats = generate_statistics({"train": ["Split-train/data.csv"]}, "out/statistics",
                                pipeline_options=["--direct_num_workers=2"])
    schema = infer_schema(stats["train"])
    anomalies = validate_statistics(stats["train"], schema)
"""

from __future__ import annotations

from .distance import Distance, feature_distance, jensen_shannon, l_infinity
from .layout import (read_anomalies, read_schema, read_statistics, write_schema, write_split_anomalies,
                     write_split_statistics)
from .schema_gen import feature_name, infer_schema
from .validate import anomaly_features, validate_statistics


def __getattr__(name: str):
    # `generate_statistics` pulls in Apache Beam (~1 s to import); readers (the CLI) do not need it.
    if name == "generate_statistics":
        from .pipeline import generate_statistics
        return generate_statistics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Distance", "anomaly_features", "feature_distance", "feature_name", "generate_statistics", "infer_schema",
           "jensen_shannon", "l_infinity", "validate_statistics", "read_anomalies", "read_schema", "read_statistics", "write_schema",
           "write_split_anomalies", "write_split_statistics"]
