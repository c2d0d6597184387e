"""SchemaGen: a TFDV ``Schema`` inferred from one split's statistics, as TFDV's ``infer_schema`` does.

Per feature: the type (INT, FLOAT; strings are BYTES), presence (``min_count: 1``, and
``min_fraction: 1.0`` when no example missed it), the value count (a univalent
``shape {dim {size: 1}}`` when always present, else ``value_count {min: 1 max: 1}``),
and for a string feature with at most :data:`MAX_STRING_DOMAIN_SIZE` distinct values a
top-level ``string_domain`` named after it holding every value (sorted). Optional
thresholds add TFDV's comparators: ``infinity_norm`` (L-infinity distance) for string
features, ``jensen_shannon_divergence`` for numeric ones, as drift and skew comparators.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from mlstore.errors import InvalidArgument

MAX_STRING_DOMAIN_SIZE = 100
_TYPES = {statistics_pb2.FeatureNameStatistics.INT: schema_pb2.INT,
          statistics_pb2.FeatureNameStatistics.FLOAT: schema_pb2.FLOAT,
          statistics_pb2.FeatureNameStatistics.STRING: schema_pb2.BYTES,
          statistics_pb2.FeatureNameStatistics.BYTES: schema_pb2.BYTES}


def feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    """A feature's name: its path joined by ``.`` (older statistics: the ``name`` field)."""
    return ".".join(feature.path.step) if feature.path.step else feature.name


def common_stats(feature: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    """The common statistics of a numeric or string feature."""
    which = feature.WhichOneof("stats")
    return getattr(feature, which).common_stats if which in ("num_stats", "string_stats", "bytes_stats") \
        else statistics_pb2.CommonStatistics()


def infer_schema(statistics: statistics_pb2.DatasetFeatureStatistics, *, drift_threshold: float | None = None,
                 skew_threshold: float | None = None) -> schema_pb2.Schema:
    """The schema of a split's statistics (see the module docstring).

    Args:
        statistics: one split's statistics (usually the first span's train split).
        drift_threshold: when given, every feature gets a ``drift_comparator`` with it.
        skew_threshold: when given, every feature gets a ``skew_comparator`` with it.

    Raises:
        InvalidArgument: a threshold is not in (0, 1].
    """
    for name, value in (("drift_threshold", drift_threshold), ("skew_threshold", skew_threshold)):
        if value is not None and not 0 < value <= 1:
            raise InvalidArgument(f"{name} must be in (0, 1], got {value}")
    schema = schema_pb2.Schema()
    for stats in sorted(statistics.features, key=feature_name):
        name = feature_name(stats)
        feature = schema.feature.add(name=name, type=_TYPES.get(stats.type, schema_pb2.BYTES))
        common = common_stats(stats)
        feature.presence.min_count = 1
        if common.num_missing == 0 and common.num_non_missing > 0:
            feature.presence.min_fraction = 1.0
            feature.shape.dim.add(size=1)
        else:
            feature.value_count.min = feature.value_count.max = 1
        if feature.type == schema_pb2.BYTES and 0 < stats.string_stats.unique <= MAX_STRING_DOMAIN_SIZE:
            values = sorted(b.label for b in stats.string_stats.rank_histogram.buckets)
            if len(values) == stats.string_stats.unique:
                schema.string_domain.add(name=name, value=values)
                feature.domain = name
        for threshold, comparator in ((drift_threshold, feature.drift_comparator),
                                      (skew_threshold, feature.skew_comparator)):
            if threshold is not None:
                norm = (comparator.infinity_norm if feature.type == schema_pb2.BYTES
                        else comparator.jensen_shannon_divergence)
                norm.threshold = threshold
    return schema
