"""SchemaGen and ExampleValidator on real StatisticsGen output: synthetic bad spans are caught,
each with the right feature named; a clean span has no anomaly."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from mlstore.components.statistics import generate_statistics
from mlstore.components.statistics.distance import jensen_shannon, l_infinity
from mlstore.components.statistics.schema_gen import infer_schema
from mlstore.components.statistics.validate import anomaly_features, validate_statistics
from mlstore.errors import InvalidArgument
from mlstore.gates.data_gate import decide_data, parse_data_gate
from mlstore.pipeline import flights

A = anomalies_pb2.AnomalyInfo


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """Statistics of a clean week (the baseline) and of four modified copies of it."""
    root = tmp_path_factory.mktemp("validation")
    base = flights.window(dt.date(2013, 1, 7), 7)
    variants = {"clean": base.copy()}
    variants["blanked"] = base.assign(dep_delay=float("nan"))
    variants["shifted"] = base.assign(distance=base.distance + 1000)
    new_category = base.copy()
    new_category.loc[new_category.index % 20 == 0, "carrier"] = "ZZ"  # 5% of the flights
    variants["new_category"] = new_category
    paths = {}
    for name, frame in {"base": base, **variants}.items():
        paths[name] = [str(root / f"{name}.csv")]
        frame.to_csv(paths[name][0], index=False)
    stats = generate_statistics(paths, root / "stats")
    schema = infer_schema(stats["base"], drift_threshold=0.1, skew_threshold=0.1)
    return stats, schema


def _reasons(anomalies, name):
    return [r.type for r in anomalies.anomaly_info[name].reason]


def test_inferred_schema_types_domains_presence(week):
    _, schema = week
    features = {f.name: f for f in schema.feature}
    assert features["carrier"].type == schema_pb2.BYTES and features["carrier"].domain == "carrier"
    carrier = next(d for d in schema.string_domain if d.name == "carrier")
    assert list(carrier.value) == sorted(flights.window(dt.date(2013, 1, 7), 7).carrier.unique())
    assert features["distance"].type == schema_pb2.INT and features["dep_delay"].type == schema_pb2.FLOAT
    assert features["distance"].presence.min_fraction == 1.0 and list(features["distance"].shape.dim) != []
    # cancelled flights have no dep_delay: required once (min_count), not in every example
    assert not features["dep_delay"].presence.HasField("min_fraction")
    assert features["dep_delay"].value_count.max == 1
    dest = next(f for f in week[0]["base"].features if f.path.step == ["dest"]).string_stats
    assert features["dest"].HasField("domain") is (dest.unique <= 100)  # TFDV's max_string_domain_size
    assert features["carrier"].drift_comparator.infinity_norm.threshold == pytest.approx(0.1)
    assert features["distance"].skew_comparator.jensen_shannon_divergence.threshold == pytest.approx(0.1)
    with pytest.raises(InvalidArgument):
        infer_schema(week[0]["base"], drift_threshold=0)


def test_clean_span_has_no_anomalies_and_records_every_comparison(week):
    stats, schema = week
    anomalies = validate_statistics(stats["clean"], schema, previous=stats["base"])
    assert anomaly_features(anomalies) == []
    assert len(anomalies.drift_skew_info) == len(schema.feature)
    assert all(m.value == pytest.approx(0.0, abs=1e-12) for d in anomalies.drift_skew_info for m in d.drift_measurements)


def test_blanked_feature_is_named(week):
    stats, schema = week
    anomalies = validate_statistics(stats["blanked"], schema, previous=stats["base"])
    assert anomaly_features(anomalies) == ["dep_delay"]
    assert _reasons(anomalies, "dep_delay") == [A.FEATURE_TYPE_LOW_NUMBER_PRESENT,
                                                A.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH]
    assert "minimum = 1, actual = 0" in anomalies.anomaly_info["dep_delay"].reason[0].description


def test_shifted_distribution_is_named(week):
    stats, schema = week
    anomalies = validate_statistics(stats["shifted"], schema, previous=stats["base"])
    assert anomaly_features(anomalies) == ["distance"]
    assert _reasons(anomalies, "distance") == [A.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH]
    jsd = jensen_shannon(*(next(f for f in stats[s].features if f.path.step == ["distance"])
                           for s in ("shifted", "base"))).value
    assert jsd > 0.3  # far over the 0.1 threshold
    # without the previous span there is nothing to compare: a shift alone is no schema violation
    assert anomaly_features(validate_statistics(stats["shifted"], schema)) == []


def test_new_category_is_named_with_its_value(week):
    stats, schema = week
    anomalies = validate_statistics(stats["new_category"], schema, previous=stats["base"])
    assert anomaly_features(anomalies) == ["carrier"]
    reason = anomalies.anomaly_info["carrier"].reason
    assert [r.type for r in reason] == [A.ENUM_TYPE_UNEXPECTED_STRING_VALUES]
    assert "ZZ" in reason[0].description and "~5" in reason[0].description
    carrier = [next(f for f in stats[s].features if f.path.step == ["carrier"]) for s in ("new_category", "base")]
    distance = l_infinity(*carrier)
    assert 0.04 < distance.value < 0.1 and distance.value_at == "ZZ"  # under the 0.1 drift threshold
    # a domain allowed to carry 10% of other values accepts it
    relaxed = schema_pb2.Schema()
    relaxed.CopyFrom(schema)
    next(f for f in relaxed.feature if f.name == "carrier").distribution_constraints.min_domain_mass = 0.9
    assert anomaly_features(validate_statistics(stats["new_category"], relaxed)) == []


def test_skew_missing_and_new_columns(week):
    stats, schema = week
    skewed = validate_statistics(stats["shifted"], schema, training=stats["base"])
    assert _reasons(skewed, "distance") == [A.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH]
    assert "training and serving" in skewed.anomaly_info["distance"].description
    assert skewed.drift_skew_info[0].skew_measurements and not skewed.drift_skew_info[0].drift_measurements
    smaller = schema_pb2.Schema()
    smaller.CopyFrom(schema)
    del smaller.feature[[f.name for f in smaller.feature].index("origin")]
    smaller.feature.add(name="tailnum", type=schema_pb2.BYTES)
    anomalies = validate_statistics(stats["clean"], smaller)
    assert anomaly_features(anomalies) == ["origin", "tailnum"]
    assert _reasons(anomalies, "origin") == [A.SCHEMA_NEW_COLUMN]
    assert _reasons(anomalies, "tailnum") == [A.SCHEMA_MISSING_COLUMN]


GATE = """\
version: 1
data:
  no_anomalies: true
  max_drift: 0.1
  features: {distance: 0.6}
"""


def test_data_gate_fails_with_the_failing_features_first(week):
    stats, schema = week
    spec = parse_data_gate(GATE)
    shifted = {"train": validate_statistics(stats["shifted"], schema, previous=stats["base"])}
    report = decide_data(spec, shifted)
    assert not report.passed
    assert [(c.feature, c.kind) for c in report.failures()] == [("distance", "anomaly")]  # JSD 0.47 <= 0.6: passes
    assert report.checks[0] == report.failures()[0] and len(report.checks) == 1 + len(schema.feature)
    distance_drift = next(c for c in report.checks if c.feature == "distance" and c.kind == "drift")
    assert distance_drift.passed and distance_drift.threshold == 0.6 and 0.3 < distance_drift.value < 0.6
    strict = decide_data(parse_data_gate("version: 1\ndata: {max_drift: 0.1}\n"), shifted)
    assert [(c.feature, c.kind) for c in strict.failures()] == [("distance", "drift")]
    clean = {"train": validate_statistics(stats["clean"], schema, previous=stats["base"])}
    assert decide_data(spec, clean).passed


@pytest.mark.parametrize("text, message", [
    ("version: 1\ndata: {}\n", "nothing to check"),
    ("version: 1\ndata: {max_drift: 2}\n", "data.max_drift (line 2): expected a threshold in [0, 1]"),
    ("version: 1\ndata: {no_anomalies: yes please}\n", "expected true or false"),
    ("version: 1\ndata: {max_drfit: 0.1}\n", "unknown key"),
    ("version: 2\ndata: {max_drift: 0.1}\n", "unsupported version"),
])
def test_data_gate_spec_errors_name_the_field(text, message):
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_data_gate(text)


def test_data_gate_unknown_split(week):
    stats, schema = week
    with pytest.raises(InvalidArgument, match="data.splits names eval"):
        decide_data(parse_data_gate("version: 1\ndata: {no_anomalies: true, splits: [eval]}\n"),
                    {"train": validate_statistics(stats["clean"], schema)})
