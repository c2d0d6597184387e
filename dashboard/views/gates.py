"""Gate history: blessings over time, pass/fail per model."""

from __future__ import annotations

import altair as alt
import streamlit as st

from mlstore._dashboard import components, data


def render() -> None:
    st.title("Gate history")
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    gates = data.blessings(uri, ver, pipeline)
    if gates.empty:
        st.info(f"No gate has judged a model in **{pipeline}** yet. Gate decisions are ModelBlessing "
                "artifacts (blessed, current_model_id, baseline_model_id) written by a Gate step.")
        return
    gates = gates.assign(outcome=gates["blessed"].map({True: "blessed", False: "failed"}),
                         created=gates["create_time_ms"].astype("datetime64[ms]"))
    passed = int(gates["blessed"].sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("Decisions", len(gates))
    c2.metric("Pass rate", f"{passed / len(gates):.0%}")
    latest = data.store().latest_blessed(pipeline)
    c3.metric("Latest blessed", f"artifact:{latest.id}" if latest else "none")
    chart = alt.Chart(gates).mark_tick(thickness=2, size=30).encode(
        x=alt.X("span:Q", title="data day (span)"), y=alt.Y("outcome:N", title=None),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["blessed", "failed"], range=["#2ca02c", "#d62728"])),
        tooltip=[alt.Tooltip("model_id:Q", title="model"), "span:Q", "outcome:N",
                 alt.Tooltip("baseline_id:Q", title="baseline")],
    ).properties(height=160)
    st.altair_chart(chart, width="stretch")
    only_failed = st.toggle("Only failed gates", value=False, key="only_failed")
    shown = gates[~gates["blessed"]] if only_failed else gates
    st.dataframe(shown.sort_values("id", ascending=False)[
        ["id", "model_id", "baseline_id", "evaluation_id", "outcome", "span", "created"]].head(1000),
        hide_index=True, width="stretch")


with components.guard():
    render()
