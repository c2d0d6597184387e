"""ExampleValidator: TFDV ``Anomalies`` of one split's statistics against a schema, plus drift and skew.

Checks per feature (TFDV's anomaly types, severity ERROR, keyed by feature name):

* in the schema but not in the data: ``SCHEMA_MISSING_COLUMN``; in the data only: ``SCHEMA_NEW_COLUMN``;
* presence: fewer examples with a value than ``presence.min_count``
  (``FEATURE_TYPE_LOW_NUMBER_PRESENT``) or a smaller fraction than ``presence.min_fraction``
  (``FEATURE_TYPE_LOW_FRACTION_PRESENT``);
* type: numbers where the schema says BYTES or strings where it says INT/FLOAT, or
  floats for an INT feature (``UNEXPECTED_DATA_TYPE``);
* domain: values outside the feature's ``string_domain`` carrying more than
  ``1 - distribution_constraints.min_domain_mass`` (default 1.0: any such value) of the
  examples (``ENUM_TYPE_UNEXPECTED_STRING_VALUES``, naming the values);
* drift against the previous span's statistics (the schema's ``drift_comparator``) and
  skew against the training statistics (``skew_comparator``): L-infinity distance above
  the ``infinity_norm`` threshold (``COMPARATOR_L_INFTY_HIGH``), Jensen-Shannon
  divergence above the ``jensen_shannon_divergence`` threshold
  (``COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH``). Every comparison made is also in
  ``drift_skew_info``, over the threshold or not.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from mlstore.components.statistics.distance import (JENSEN_SHANNON_DIVERGENCE, L_INFTY, Distance,
                                                    jensen_shannon, l_infinity)
from mlstore.components.statistics.schema_gen import common_stats, feature_name

_Type = anomalies_pb2.AnomalyInfo
_NUMERIC = (statistics_pb2.FeatureNameStatistics.INT, statistics_pb2.FeatureNameStatistics.FLOAT)
_MEASUREMENT = {L_INFTY: anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY,
                JENSEN_SHANNON_DIVERGENCE: anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE}


def validate_statistics(statistics: statistics_pb2.DatasetFeatureStatistics, schema: schema_pb2.Schema, *,
                        previous: statistics_pb2.DatasetFeatureStatistics | None = None,
                        training: statistics_pb2.DatasetFeatureStatistics | None = None) -> anomalies_pb2.Anomalies:
    """The anomalies of ``statistics`` (see the module docstring).

    Args:
        statistics: one split's statistics.
        schema: the schema to check against (its comparators set the drift/skew thresholds).
        previous: the same split of the previous span (drift); None: no drift check.
        training: the training split's statistics (skew); None: no skew check.
    """
    anomalies = anomalies_pb2.Anomalies(anomaly_name_format=anomalies_pb2.Anomalies.SERIALIZED_PATH)
    anomalies.baseline.CopyFrom(schema)
    anomalies.data_missing = statistics.num_examples == 0
    stats = {feature_name(f): f for f in statistics.features}
    domains = {d.name: d for d in schema.string_domain}
    for feature in schema.feature:
        found = stats.get(feature.name)
        if found is None:
            _add(anomalies, feature.name, _Type.SCHEMA_MISSING_COLUMN, "Column dropped",
                 "The feature is in the schema but not in the data.")
            continue
        _check_feature(anomalies, feature, found, statistics.num_examples, domains)
        _compare(anomalies, feature, found, previous, "drift")
        _compare(anomalies, feature, found, training, "skew")
    known = {f.name for f in schema.feature}
    for name in sorted(set(stats) - known):
        _add(anomalies, name, _Type.SCHEMA_NEW_COLUMN, "New column", "The feature is in the data but not in the schema.")
    return anomalies


def _check_feature(anomalies, feature: schema_pb2.Feature, stats: statistics_pb2.FeatureNameStatistics,
                   num_examples: int, domains) -> None:
    name = feature.name
    common = common_stats(stats)
    present = common.num_non_missing
    if feature.presence.HasField("min_count") and present < feature.presence.min_count:
        _add(anomalies, name, _Type.FEATURE_TYPE_LOW_NUMBER_PRESENT, "Column dropped",
             f"The feature was present in fewer examples than expected: minimum = "
             f"{feature.presence.min_count}, actual = {present}.")
    fraction = present / num_examples if num_examples else 0.0
    if feature.presence.HasField("min_fraction") and num_examples and fraction < feature.presence.min_fraction:
        _add(anomalies, name, _Type.FEATURE_TYPE_LOW_FRACTION_PRESENT, "Column dropped",
             f"The feature was present in fewer examples than expected: minimum fraction = "
             f"{feature.presence.min_fraction:g}, actual = {fraction:.6g}.")
    if present == 0:
        return  # no values: nothing to type-check or compare with a domain
    expected = feature.type
    actual = stats.type
    numbers_for_bytes = expected == schema_pb2.BYTES and actual in _NUMERIC
    text_for_numbers = expected in (schema_pb2.INT, schema_pb2.FLOAT) and actual not in _NUMERIC
    floats_for_int = expected == schema_pb2.INT and actual == statistics_pb2.FeatureNameStatistics.FLOAT
    if numbers_for_bytes or text_for_numbers or floats_for_int:
        _add(anomalies, name, _Type.UNEXPECTED_DATA_TYPE, "Unexpected data type",
             f"Expected data of type {schema_pb2.FeatureType.Name(expected)} but got "
             f"{statistics_pb2.FeatureNameStatistics.Type.Name(actual)}.")
        return
    domain = domains.get(feature.domain) if feature.HasField("domain") else (
        feature.string_domain if feature.HasField("string_domain") else None)
    if domain is not None and stats.WhichOneof("stats") == "string_stats":
        _check_domain(anomalies, feature, stats.string_stats, set(domain.value))


def _check_domain(anomalies, feature: schema_pb2.Feature, stats: statistics_pb2.StringStatistics,
                  allowed: set[str]) -> None:
    total = stats.common_stats.num_non_missing
    unexpected = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets if b.label not in allowed]
    if not unexpected or not total:
        return
    outside = sum(c for _, c in unexpected) / total
    min_mass = (feature.distribution_constraints.min_domain_mass
                if feature.HasField("distribution_constraints") else 1.0)
    if 1.0 - outside >= min_mass:
        return
    listed = ", ".join(label for label, _ in sorted(unexpected, key=lambda t: (-t[1], t[0]))[:10])
    _add(anomalies, feature.name, _Type.ENUM_TYPE_UNEXPECTED_STRING_VALUES, "Unexpected string values",
         f"Examples contain values missing from the schema: {listed} (~{100 * outside:.3g}% of the examples).")


def _compare(anomalies, feature: schema_pb2.Feature, current: statistics_pb2.FeatureNameStatistics,
             baseline: statistics_pb2.DatasetFeatureStatistics | None, which: str) -> None:
    comparator = feature.drift_comparator if which == "drift" else feature.skew_comparator
    if baseline is None or not feature.HasField(f"{which}_comparator"):
        return
    other = next((f for f in baseline.features if feature_name(f) == feature.name), None)
    sides = "current and previous" if which == "drift" else "training and serving"
    checks = []
    if comparator.HasField("infinity_norm"):
        checks.append((l_infinity(current, other), comparator.infinity_norm.threshold, _Type.COMPARATOR_L_INFTY_HIGH,
                       "Linfty distance"))
    if comparator.HasField("jensen_shannon_divergence"):
        checks.append((jensen_shannon(current, other), comparator.jensen_shannon_divergence.threshold,
                       _Type.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH, "approximate Jensen-Shannon divergence"))
    info = next((d for d in anomalies.drift_skew_info if d.path.step == [feature.name]), None)
    if info is None:
        info = anomalies.drift_skew_info.add()
        info.path.step.append(feature.name)
    for distance, threshold, kind, label in checks:
        measurements = info.drift_measurements if which == "drift" else info.skew_measurements
        measurements.add(type=_MEASUREMENT[distance.kind], value=distance.value, threshold=threshold)
        if distance.value > threshold:
            _add(anomalies, feature.name, kind, f"High {label} between {sides}",
                 f"The {label} between {sides} is {distance.value:.6g}, above the threshold {threshold:g}."
                 + _value_note(distance))


def _value_note(distance: Distance) -> str:
    return f" The feature value with maximum difference is: {distance.value_at}" if distance.value_at else ""


def _add(anomalies: anomalies_pb2.Anomalies, name: str, kind: int, short: str, description: str) -> None:
    info = anomalies.anomaly_info[name]
    if not info.path.step:
        info.path.step.append(name)
        info.severity = _Type.ERROR
    info.reason.add(type=kind, short_description=short, description=description)
    if len(info.reason) == 1:
        info.short_description, info.description = short, description
    else:
        info.short_description = "Multiple errors"
        info.description = " ".join(r.description for r in info.reason)


def anomaly_features(anomalies: anomalies_pb2.Anomalies) -> list[str]:
    """The names of the features with an anomaly, sorted."""
    return sorted(anomalies.anomaly_info)
