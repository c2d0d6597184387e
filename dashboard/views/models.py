"""Models over time (home): every daily model's metric by data day, per slice, with gate outcomes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data


def _series(uri, ver, pipeline: str, metric: str, slices: list[str]) -> pd.DataFrame:
    gates = data.blessings(uri, ver, pipeline)
    outcome = dict(zip(gates["model_id"], gates["blessed"].map({True: "blessed", False: "failed"})))
    frames = []
    for slice_key in slices:
        frame = data.metric_series(uri, ver, pipeline, metric, slice_key).assign(slice=slice_key)
        frames.append(frame)
    series = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if series.empty:
        return series
    series["gate"] = series["model_id"].map(outcome).fillna("no gate")
    return series


def _selected_model(event) -> int | None:
    points = (event or {}).get("selection", {}).get("point", []) if isinstance(event, dict) else []
    return int(points[0]["model_id"]) if points else None


def render() -> None:
    st.title("Models over time")
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    metrics, slices = data.metric_catalog(uri, ver, pipeline)
    if not metrics:
        st.info(f"Pipeline **{pipeline}** has no model evaluations yet. Log one with "
                "`run.log_evaluation({slice: {metric: value}})` in an Evaluator step.")
        return
    left, right = st.columns([1, 3])
    metric = left.selectbox("Metric", metrics, index=metrics.index("auc_roc") if "auc_roc" in metrics else 0,
                            key="metric")
    chosen = right.multiselect("Slices", slices, default=slices[:1], key="slices")
    series = _series(uri, ver, pipeline, metric, chosen)
    if series.empty:
        st.info("Pick at least one slice that has values for this metric.")
        return
    event = st.altair_chart(components.metric_chart(series, metric), on_select="rerun",
                            selection_mode="point", key="series", width="stretch")
    _summary(series, uri, ver, pipeline)
    _open_model(series, _selected_model(event))
    _per_slice(uri, ver, pipeline, metric, slices)


def _summary(series: pd.DataFrame, uri, ver, pipeline: str) -> None:
    """Tiles counting models (not gate records): a model judged twice counts once, by its newest decision."""
    models = series.drop_duplicates("model_id")
    gates = data.blessings(uri, ver, pipeline)
    newest = gates.sort_values("id").drop_duplicates("model_id", keep="last") if not gates.empty else gates
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Models", len(models))
    c2.metric("Days", int(models["span"].nunique()))
    c3.metric("Blessed models", int(newest["blessed"].astype(bool).sum()) if not newest.empty else 0)
    c4.metric("Models failing their gate", int((~newest["blessed"].astype(bool)).sum()) if not newest.empty else 0)


def _per_slice(uri, ver, pipeline: str, metric: str, slices: list[str]) -> None:
    """Slice × day heat map, the newest model's worst slices and the slices that regressed since the day before."""
    st.subheader("Per slice")
    series = _series(uri, ver, pipeline, metric, slices)
    known, _ = data.metric_catalog(uri, ver, pipeline)
    counts = _series(uri, ver, pipeline, "example_count", slices) if "example_count" in known else pd.DataFrame()
    if series.empty:
        return
    if not counts.empty:
        minimum = st.number_input("Minimum examples per slice", 0, None, 30, key="home_min_examples",
                                  help="Slices whose newest evaluation has fewer examples are left out.")
        newest_counts = counts.sort_values(["span", "model_id"]).drop_duplicates("slice", keep="last")
        keep = set(newest_counts[newest_counts["value"] >= minimum]["slice"])
        series = series[series["slice"].isin(keep)]
        if series.empty:
            st.info(f"No slice has {minimum} examples or more.")
            return
    daily = series.sort_values(["span", "model_id"]).drop_duplicates(["slice", "span"], keep="last")
    st.altair_chart(components.heat_map(daily, metric), width="stretch")
    spans = sorted(daily["span"].dropna().unique())
    if not spans:
        return
    lower_better = metric in data.LOWER_IS_BETTER
    newest = daily[daily["span"] == spans[-1]].set_index("slice")["value"]
    left, right = st.columns(2)
    worst = newest.sort_values(ascending=not lower_better).head(10)
    left.markdown(f"**Worst slices** on the newest day ({metric})")
    left.dataframe(worst.rename(metric).reset_index(), hide_index=True, width="stretch")
    right.markdown("**Slices that regressed** since the day before")
    if len(spans) < 2:
        right.caption("Only one day so far.")
        return
    before = daily[daily["span"] == spans[-2]].set_index("slice")["value"]
    change = (newest - before).dropna()
    regressed = change[change > 1e-12] if lower_better else change[change < -1e-12]
    if regressed.empty:
        right.caption("None.")
    else:
        # the largest regression first: the most negative change, or for loss-like metrics the most positive
        right.dataframe(regressed.sort_values(ascending=not lower_better).rename("change").reset_index(),
                        hide_index=True, width="stretch")


def _open_model(series: pd.DataFrame, clicked: int | None) -> None:
    """Opens the clicked model; a selectbox does the same without a pointer (and in tests)."""
    if clicked is not None:
        st.switch_page("views/model.py", query_params={"model": str(clicked)})
    newest = series.sort_values(["span", "model_id"], ascending=False).drop_duplicates("model_id").head(500)
    as_date = components.spans_are_dates(newest["span"].dropna())
    labels = {int(r.model_id): f"artifact:{int(r.model_id)} · span {components.span_label(r.span, as_date)} · {r.gate}"
              for r in newest.itertuples()}
    col, button = st.columns([3, 1])
    choice = col.selectbox("Open a model (newest first)", list(labels), format_func=labels.get, key="open_model")
    if button.button("Open model", key="open_model_button"):
        st.switch_page("views/model.py", query_params={"model": str(choice)})


with components.guard():
    render()
