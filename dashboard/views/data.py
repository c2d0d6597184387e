"""Data: per-feature statistics of a span (Facets Overview's table), drift from another span,
drift of each feature over the days, anomalies per day and the models trained on them."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data, statistics
from mlstore.components.statistics.summary import DEFAULT_DRIFT_THRESHOLD

NO_STATISTICS = ("No ExampleStatistics in pipeline **{pipeline}**: run StatisticsGen on its Examples (the executor "
                 "step `StatisticsGen` of `mlstore.pipeline.steps`, or TFX's StatisticsGen), then read them with "
                 "`mlstore stats show --span S`.")
NO_ANOMALIES = ("No ExampleAnomalies in pipeline **{pipeline}**: run SchemaGen on a span's statistics and "
                "ExampleValidator (statistics + schema, and the previous span's statistics for drift); "
                "`mlstore anomalies REF` prints one.")

_FORMATS = {"missing %": "%.1f%%", "zeros %": "%.1f%%", "mean": "%.4g", "std": "%.4g", "min": "%.4g",
            "median": "%.4g", "max": "%.4g", "drift": "%.4f", "threshold": "%g", "mean (compared)": "%.4g",
            "missing % (compared)": "%.1f%%"}


def _column_config(frame: pd.DataFrame) -> dict:
    config = {name: st.column_config.NumberColumn(format=f) for name, f in _FORMATS.items() if name in frame}
    for name in ("distribution", "distribution (compared)"):
        if name in frame:
            config[name] = st.column_config.BarChartColumn(
                name, y_min=0, help="Histogram buckets (numbers) or the most frequent values' counts (strings)")
    return config


def _label(entry, as_date: bool, reruns: dict[int, int]) -> str:
    a = entry.artifact
    text = f"span {components.span_label(a.span, as_date)} · artifact:{a.id}"
    if a.id in reruns:
        text += f" · rerun of execution:{reruns[a.id]}"
    if a.properties.get("tfx_version"):
        text += f" · TFX {a.properties['tfx_version']}"
    return text


def _skipped(entries, what: str) -> None:
    bad = [e for e in entries if not e.splits]
    if bad:
        st.caption(f"{len(bad)} {what} not shown (not in TFX's Split-<name>/ layout, or their bytes cannot be read): "
                   + "; ".join(f"artifact:{e.artifact.id}: {e.problem}" for e in bad[:5])
                   + (" …" if len(bad) > 5 else ""))


def _pickers(uri, ver, pipeline: str, readable):
    """(current entry, compared entry or None, split, spans read as dates) from the sidebar.

    ``?statistics=ID`` opens that artifact; reruns are listed last and are never the default.
    """
    reruns = data.rerun_outputs(uri, ver, pipeline)
    as_date = components.spans_are_dates([e.artifact.span for e in readable if e.artifact.span is not None])
    by_id = {e.artifact.id: e for e in readable}
    newest_first = sorted(readable, key=lambda e: (e.artifact.id not in reruns, *statistics.span_order(e.artifact)),
                          reverse=True)
    ids = [e.artifact.id for e in newest_first]
    wanted = st.query_params.get("statistics")
    index = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in by_id else 0
    chosen = st.sidebar.selectbox("Statistics (newest span first)", ids, index=index, key="statistics",
                                  format_func=lambda i: _label(by_id[i], as_date, reruns))
    st.query_params["statistics"] = str(chosen)
    current = by_id[chosen]
    others = [None] + [i for i in ids if i != chosen]
    default = statistics.default_comparison(readable, current, reruns)
    compared = st.sidebar.selectbox("Compare with (default: the previous span)", others,
                                    index=others.index(default) if default in others else 0, key=f"compare_{chosen}",
                                    format_func=lambda i: "nothing" if i is None else _label(by_id[i], as_date, reruns))
    splits = sorted(current.splits)
    split = st.sidebar.selectbox("Split", splits, index=splits.index("train") if "train" in splits else 0,
                                 key=f"split_{chosen}")
    return current, (by_id[compared] if compared is not None else None), split, as_date


def render() -> None:
    st.title("Data")
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    entries = statistics.recorded(uri, ver, pipeline, statistics.STATISTICS)
    readable = [e for e in entries if e.splits]
    if not entries:
        st.info(NO_STATISTICS.format(pipeline=pipeline))
    elif not readable:
        st.warning(f"None of the {len(entries)} ExampleStatistics of **{pipeline}** can be shown.")
    _skipped(entries, "ExampleStatistics")
    if readable:
        current, compared, split, as_date = _pickers(uri, ver, pipeline, readable)
        thresholds, schema_id = statistics.drift_thresholds(uri, ver, pipeline)
        _overview(current, compared, split, as_date, thresholds)
        _comparison(current, compared, split, as_date, thresholds, schema_id)
        _drift_over_days(uri, ver, pipeline, split)
    _anomalies(uri, ver, pipeline)


def _overview(current, compared, split: str, as_date: bool, thresholds) -> None:
    st.subheader("Features")
    dataset = current.splits[split]
    a = current.artifact
    writer = f" · written by TFX {a.properties['tfx_version']}" if a.properties.get("tfx_version") else ""
    st.caption(f"artifact:{a.id} · span {components.span_label(a.span, as_date)} · split {split} · "
               f"{int(dataset.num_examples)} examples{writer}")
    table = statistics.feature_table(dataset)
    if compared is not None and split in compared.splits:
        drift = statistics.drift_table(compared.splits[split], dataset, thresholds)
        table = table.merge(drift[["feature", "drift"]], on="feature", how="left")
    c1, c2, c3 = st.columns(3)
    c1.metric("Examples", int(dataset.num_examples))
    c2.metric("Features", len(table))
    c3.metric("Features with missing values", int((table["missing"] > 0).sum()))
    st.dataframe(table, hide_index=True, width="stretch", column_config=_column_config(table), key="features")


def _comparison(current, compared, split: str, as_date: bool, thresholds, schema_id) -> None:
    st.subheader("Compared with another span")
    if compared is None:
        st.caption("Pick statistics to compare with in the sidebar.")
        return
    if split not in compared.splits:
        st.info(f"artifact:{compared.artifact.id} has no split {split!r} (it has {', '.join(sorted(compared.splits))}).")
        return
    b = compared.artifact
    table = statistics.side_by_side(current.splits[split], compared.splits[split], thresholds)
    over = table[table["over threshold"]]
    source = (f"thresholds: Schema artifact:{schema_id}'s drift comparators where set, else "
              if schema_id else "no schema: threshold ") + f"{DEFAULT_DRIFT_THRESHOLD:g}"
    st.caption(f"Drift of artifact:{current.artifact.id} from artifact:{b.id} (span "
               f"{components.span_label(b.span, as_date)}), split {split}: {len(over)} of {len(table)} features over "
               f"their threshold ({source}). "
               "L-infinity distance for strings, Jensen-Shannon divergence for numbers, as ExampleValidator measures.")
    if not over.empty:
        st.markdown("**Over threshold:** " + ", ".join(f"{r.feature} {r.drift:.4f}" for r in over.itertuples()))
    st.dataframe(table, hide_index=True, width="stretch", column_config=_column_config(table), key="compare_table")


def drift_chart(frame: pd.DataFrame) -> alt.Chart:
    """Drift by span, one line per feature (date spans on a time axis)."""
    frame, x_axis, span_field = components.with_span_axis(frame.assign(model_id=frame["artifact_id"]))
    return alt.Chart(frame).mark_line(point=True).encode(
        x=x_axis, y=alt.Y("drift:Q", title="drift from the span before", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("feature:N", title="feature"),
        tooltip=["feature:N", alt.Tooltip(f"{span_field}:N", title="span"), "metric:N",
                 alt.Tooltip("drift:Q", format=".4f"), alt.Tooltip("artifact_id:N", title="statistics")],
    ).properties(height=360)


def _drift_over_days(uri, ver, pipeline: str, split: str) -> None:
    st.subheader("Drift over the days")
    frame = statistics.drift_over_days(uri, ver, pipeline, split)
    if frame.empty:
        st.caption(f"Drift over the days needs split {split} in the statistics of two spans or more.")
        return
    features = sorted(frame["feature"].unique())
    chosen = st.multiselect("Features", features, default=features, key="drift_features")
    shown = frame[frame["feature"].isin(chosen)]
    if not shown.empty:
        st.altair_chart(drift_chart(shown), width="stretch")


def _anomalies(uri, ver, pipeline: str) -> None:
    st.subheader("Anomalies per day")
    entries = statistics.recorded(uri, ver, pipeline, statistics.ANOMALIES)
    if not entries:
        st.info(NO_ANOMALIES.format(pipeline=pipeline))
        return
    _skipped(entries, "ExampleAnomalies")
    days, details = statistics.anomalies_by_day(uri, ver, pipeline)
    if days.empty:
        return
    flagged = int((days["anomalous features"] > 0).sum())
    st.caption(f"{flagged} of {len(days)} validated days have anomalies. `model`: the daily model trained on that "
               "span (opens its page); `models`: every model of the span.")
    config = {"model": st.column_config.LinkColumn("model", display_text=r"model=(\d+)",
                                                   help="The daily model trained on this span")}
    st.dataframe(components.display_spans(days), hide_index=True, width="stretch", column_config=config,
                 key="anomaly_days")
    if not details.empty:
        st.dataframe(components.display_spans(details), hide_index=True, width="stretch", key="anomaly_details")


with components.guard():
    render()
