"""Spans on the dashboard: date spans (YYYYMMDD) read as dates, other spans as plain
integers, never with thousands separators (mlstore/_dashboard/components.py)."""

from __future__ import annotations

import pandas as pd

from mlstore._dashboard import components


def _frame(spans):
    return pd.DataFrame({"span": spans, "model_id": range(1, len(spans) + 1), "value": 0.5})


def test_date_spans_are_dates_on_the_axis_and_in_tables():
    frame, axis, field = components.with_span_axis(_frame([20130101, 20130102, 20130131]))
    spec = axis.to_dict()
    assert spec["type"] == "temporal" and spec["axis"]["format"] == "%Y-%m-%d"
    assert list(frame[field]) == ["2013-01-01", "2013-01-02", "2013-01-31"]
    assert list(frame["day"]) == list(pd.to_datetime(["2013-01-01", "2013-01-02", "2013-01-31"]))
    assert list(components.display_spans(_frame([20130102, None]))["span"]) == ["2013-01-02", "–"]


def test_other_spans_are_integers_without_thousands_separators():
    for spans in ([1, 2, 3], [100001, 100002, 1234567], [20131399, 20130101]):  # the last: not every one a date
        frame, axis, field = components.with_span_axis(_frame(spans))
        spec = axis.to_dict()
        assert spec["type"] == "quantitative" and spec["axis"]["format"] == "d", spans
        assert list(frame[field]) == [str(s) for s in spans]
        assert list(components.display_spans(_frame(spans))["span"]) == [str(s) for s in spans]
        assert not any("," in components.span_label(s, False) for s in spans)


def test_no_span_at_all_places_points_by_model_id():
    frame, axis, field = components.with_span_axis(_frame([None, None]))
    assert axis.to_dict()["title"] == "model id" and set(frame[field]) == {"–"}
