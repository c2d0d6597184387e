"""What the Data page says over three days of StatisticsGen -> SchemaGen -> ExampleValidator run
through the executor (tests/data_validation_support.py) and over the statistics real TFX wrote
(tests/fixtures/tfx_flights).

Expected values are read from the recorded protos (through the store) and from what
ExampleValidator measured, not from the page's helpers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import mlstore
from mlstore.components.statistics import read_anomalies, read_statistics
from tests.dashboard_support import page_texts, run_page
from tests.data_validation_support import PIPELINE, record_days

PAGE = "views/data.py"
DAYS = (("2013-01-07", 20130107), ("2013-01-08", 20130108), ("2013-01-09", 20130109))


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Three validated days, and a model logged as trained on the second day's examples."""
    root = tmp_path_factory.mktemp("data_page")
    uri = str(root / "store")
    out = record_days(uri, DAYS)
    store = mlstore.open(uri)
    with tempfile.TemporaryDirectory() as model_dir:
        (Path(model_dir) / "train_result.json").write_text("{}")
        with mlstore.run(PIPELINE, "Trainer", {"epochs": 1}, store=store) as run:
            run.use(out[20130108]["examples"], "examples")
            run.log_artifact(model_dir, "Model", "model", {"span": 20130108})
    out["model"] = run.outputs[0].id
    yield uri, out, store
    store.close()


def _stats(store, artifact) -> dict:
    return read_statistics(store.local_path(artifact))


def test_feature_table_is_the_newest_spans_statistics(three_days, monkeypatch):
    uri, out, store = three_days
    at = run_page(uri, PAGE, monkeypatch)
    newest = out[20130109]["statistics"]
    train = _stats(store, newest)["train"]
    assert f"artifact:{newest.id} · span 2013-01-09 · split train · {train.num_examples} examples" in page_texts(at)
    table = at.dataframe[0].value.set_index("feature")
    protos = {f.path.step[0]: f for f in train.features}
    assert sorted(table.index) == sorted(protos)
    for name, f in protos.items():
        stats = f.num_stats if f.HasField("num_stats") else f.string_stats
        common = stats.common_stats
        assert table.loc[name, "count"] == common.num_non_missing, name
        assert table.loc[name, "missing %"] == pytest.approx(100 * common.num_missing / train.num_examples), name
        if f.HasField("num_stats"):
            assert table.loc[name, "mean"] == pytest.approx(f.num_stats.mean)
            assert table.loc[name, "max"] == pytest.approx(f.num_stats.max)
            assert table.loc[name, "zeros %"] == pytest.approx(100 * f.num_stats.num_zeros / common.num_non_missing)
            standard = next(h for h in f.num_stats.histograms if h.type == h.STANDARD)
            assert list(table.loc[name, "distribution"]) == pytest.approx([b.sample_count for b in standard.buckets])
        else:
            top = f.string_stats.top_values[0]
            assert table.loc[name, "unique"] == f.string_stats.unique
            assert table.loc[name, "top values"].startswith(f"{top.value} ({int(top.frequency)})")
    assert table.loc["dep_delay", "missing %"] > 0  # flights without a departure time


def _drift_measured(store, anomalies, split: str) -> dict[str, float]:
    """{feature: the drift ExampleValidator measured} of one split."""
    found = read_anomalies(store.local_path(anomalies))[split]
    return {d.path.step[0]: d.drift_measurements[0].value for d in found.drift_skew_info if d.drift_measurements}


def test_drift_equals_what_example_validator_measured(three_days, monkeypatch):
    uri, out, store = three_days
    at = run_page(uri, PAGE, monkeypatch)
    text = page_texts(at)
    first, second = out[20130108]["statistics"], out[20130109]["statistics"]
    assert f"Drift of artifact:{second.id} from artifact:{first.id} (span 2013-01-08), split train" in text
    measured = _drift_measured(store, out[20130109]["anomalies"], "train")
    assert set(measured) == {"arr_delay", "carrier", "day", "dep_delay", "dest", "distance", "hour", "month",
                             "origin", "year"}
    main = at.dataframe[0].value.set_index("feature")
    compared = at.dataframe[1].value.set_index("feature")
    for name, value in measured.items():
        assert main.loc[name, "drift"] == pytest.approx(value, abs=1e-12), name
        assert compared.loc[name, "drift"] == pytest.approx(value, abs=1e-12), name
    assert compared.loc["day", "over threshold"] and compared.loc["day", "threshold"] == pytest.approx(0.2)
    assert compared.loc["carrier", "metric"] == "L-infinity" and compared.loc["day", "metric"] == "Jensen-Shannon"
    assert compared.loc["day", "count (compared)"] == _stats(store, first)["train"].num_examples
    # over the days: one point per feature per day after the first, each the validator's value
    chart = at.get("vega_lite_chart")[0]
    points = _chart_rows(chart)
    for span in (20130108, 20130109):
        day_measured = _drift_measured(store, out[span]["anomalies"], "train")
        got = {r["feature"]: r["drift"] for r in points if r["span"] == span}
        assert got == pytest.approx(day_measured, abs=1e-12), span
    assert {r["span"] for r in points} == {20130108, 20130109}
    assert json.loads(chart.proto.spec)["encoding"]["x"]["type"] == "temporal"


def _chart_rows(chart) -> list[dict]:
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
    if chart.proto.HasField("data"):
        frames.append(convert_arrow_bytes_to_pandas_df(chart.proto.data.data))
    return [row for frame in frames for row in frame.to_dict("records")]


def test_other_span_split_and_nothing_to_compare(three_days, monkeypatch):
    uri, out, store = three_days
    first = out[20130107]["statistics"]
    at = run_page(uri, PAGE, monkeypatch, {"statistics": str(first.id)})
    at.selectbox(key=f"split_{first.id}").select("eval").run()
    assert not at.exception
    evaluation = _stats(store, first)["eval"]
    assert f"artifact:{first.id} · span 2013-01-07 · split eval · {evaluation.num_examples} examples" in page_texts(at)
    table = at.dataframe[0].value
    assert "drift" not in table  # the first span has no earlier one to compare with
    assert "Pick statistics to compare with" in page_texts(at)
    carrier = table.set_index("feature").loc["carrier"]
    assert carrier["count"] == next(f for f in evaluation.features if f.path.step[0] == "carrier"
                                    ).string_stats.common_stats.num_non_missing


def test_anomalies_per_day_with_the_model_of_the_span(three_days, monkeypatch):
    uri, out, store = three_days
    at = run_page(uri, PAGE, monkeypatch)
    days = at.dataframe[2].value
    details = at.dataframe[3].value
    assert list(days["span"]) == ["2013-01-09", "2013-01-08", "2013-01-07"]
    for span, label in ((20130109, "2013-01-09"), (20130108, "2013-01-08"), (20130107, "2013-01-07")):
        recorded = read_anomalies(store.local_path(out[span]["anomalies"]))
        expected = {(split, name) for split, a in recorded.items() for name in a.anomaly_info}
        assert expected, span
        shown = details[details["span"] == label]
        assert set(zip(shown["split"], shown["feature"])) == expected, span
        row = days[days["span"] == label].iloc[0]
        assert row["features"] == ", ".join(sorted({name for _, name in expected}))
        assert row["anomalies"] == out[span]["anomalies"].id
    day2 = days[days["span"] == "2013-01-08"].iloc[0]
    assert day2["model"] == f"model?model={out['model']}" and day2["models"] == f"artifact:{out['model']}"
    day1 = days[days["span"] == "2013-01-07"].iloc[0]
    assert pd.isna(day1["model"]) and day1["models"] == ""
    drift_rows = details[(details["span"] == "2013-01-09") & (details["feature"] == "day") & (details["split"] == "train")]
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in drift_rows.iloc[0]["types"]


def test_tfx_written_statistics(tfx_store, monkeypatch):
    store = mlstore.open(str(tfx_store))
    try:
        produced = [a for a in store.artifacts(type="ExampleStatistics")
                    if any(e.is_output and e.role == "statistics" for e in store.events(a.node_id))]
        newest = max(produced, key=lambda a: a.id)
        train = read_statistics(store.local_path(newest))["train"]
    finally:
        store.close()
    at = run_page(str(tfx_store), PAGE, monkeypatch)
    text = page_texts(at)
    assert f"artifact:{newest.id} · span 0 · split train · {train.num_examples} examples · written by TFX 1.16.0" in text
    table = at.dataframe[0].value.set_index("feature")
    counts = {f.path.step[0]: (f.num_stats if f.HasField("num_stats") else f.string_stats).common_stats.num_non_missing
              for f in train.features}
    assert dict(table["count"]) == counts
    assert set(counts) == {"carrier", "dep_delay", "distance", "hour", "late", "origin"}
    # Transform's pre/post-transform statistics are not in StatisticsGen's layout: named, not shown
    assert "6 ExampleStatistics not shown" in text and "3 ExampleAnomalies not shown" in text


def test_empty_states_say_what_to_run(tmp_path, monkeypatch):
    uri = str(tmp_path / "store")
    store = mlstore.open(uri)
    data = tmp_path / "examples"
    (data / "Split-train").mkdir(parents=True)
    (data / "Split-train" / "data.csv").write_text("a\n1\n")
    with mlstore.run("empty", "ExampleGen", store=store) as run:
        run.log_artifact(str(data), "Examples", "examples", {"span": 1})
    store.close()
    at = run_page(uri, PAGE, monkeypatch)
    text = page_texts(at)
    assert "No ExampleStatistics in pipeline **empty**: run StatisticsGen" in text
    assert "No ExampleAnomalies in pipeline **empty**: run SchemaGen" in text
    assert not at.dataframe


def test_statistics_whose_bytes_changed_are_named_not_shown(tfx_store, monkeypatch):
    store = mlstore.open(str(tfx_store))
    try:
        produced = sorted(a.id for a in store.artifacts(type="ExampleStatistics")
                          if any(e.is_output and e.role == "statistics" for e in store.events(a.node_id)))
        newest = store.artifact(f"artifact:{produced[-1]}")
    finally:
        store.close()
    target = Path(newest.uri) / "Split-train" / "FeatureStats.pb"
    written = target.read_bytes()
    target.write_bytes(written[:-1] + bytes([written[-1] ^ 0xFF]))  # one byte changed after TFX wrote it
    at = run_page(str(tfx_store), PAGE, monkeypatch)
    text = page_texts(at)
    assert f"artifact:{newest.id}: the bytes at {newest.uri} changed since they were fingerprinted" in text
    assert "7 ExampleStatistics not shown" in text
    assert f"artifact:{produced[-2]} · span 0 · split train" in text  # the newest readable one instead


def test_through_a_server_the_page_says_the_same(three_days, monkeypatch):
    from tests.grpc_support import serve  # noqa: PLC0415

    uri, _, _ = three_days
    local = run_page(uri, PAGE, monkeypatch)
    with serve(uri, "--processes", "1") as (_, target):
        remote = run_page(f"grpc://{target}", PAGE, monkeypatch)
    assert page_texts(remote) == page_texts(local)
    assert len(remote.dataframe) == len(local.dataframe) == 4
    for got, expected in zip(remote.dataframe, local.dataframe):
        assert got.value.to_json() == expected.value.to_json()
