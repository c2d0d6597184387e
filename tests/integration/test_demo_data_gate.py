"""The demo validates each day's data before training: a day whose training window carries
a carrier code the curated schema does not know, in a third of its rows, stops before
Transform; the anomaly is recorded and named. A normal day passes."""

from __future__ import annotations

import datetime as dt

import mlstore
from mlstore.components.statistics import read_anomalies
from mlstore.pipeline import demo, flights

DAY1, DAY2 = dt.date(2013, 1, 1), dt.date(2013, 1, 2)


def test_a_bad_span_stops_before_training(tmp_path, monkeypatch):
    store = mlstore.open(str(tmp_path / "store"))
    options = demo.DemoOptions(days=2, push_dir=tmp_path / "serving")
    first = demo.run_day(store, DAY1, options)
    assert first.stopped is None and first.model is not None and first.anomalies == {"eval": [], "train": []}
    schemas = store.artifacts(type="Schema", pipeline=demo.PIPELINE)
    assert len(schemas) == 2  # SchemaGen's inferred schema and the demo's curated version of it
    (curate,) = store.executions(type="ImportSchemaGen", pipeline=demo.PIPELINE)
    roles = {(e.role, e.artifact_id, e.is_output) for e in store.events(curate.node_id)}
    assert roles == {("base_schema", schemas[0].id, False), ("schema", schemas[1].id, True)}
    assert "min_domain_mass" in open(f"{store.local_path(schemas[1])}/schema.pbtxt").read()

    window = flights.window

    def corrupted(last, days):  # the day-2 training window: a third of the flights by carrier "ZZ"
        frame = window(last, days).copy()
        if last == DAY2 and days == options.window_days:
            frame.loc[frame.index[::3], "carrier"] = "ZZ"
        return frame

    monkeypatch.setattr(flights, "window", corrupted)
    second = demo.run_day(store, DAY2, options)
    assert second.model is None and second.anomalies["train"] == ["carrier"]
    assert second.stopped.startswith("train carrier:") and "ZZ" in second.stopped
    span = flights.span_of(DAY2)
    assert [e.type for e in store.executions(pipeline=demo.PIPELINE) if e.properties.get("span") == span] == [
        "ExampleGen", "StatisticsGen", "ExampleValidator"]  # nothing trained on it
    (anomalies,) = [a for a in store.artifacts(type="ExampleAnomalies") if a.span == span]
    recorded = read_anomalies(store.local_path(anomalies))
    assert "ZZ" in recorded["train"].anomaly_info["carrier"].description
    assert span not in demo.completed_spans(store, demo.PIPELINE)  # a later run tries the day again
    store.close()
