"""Gate history: blessings over time, pass/fail per model."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data


#: Rows of the decisions table that say why (each reads that decision's report once).
REASONS_SHOWN = 200


def gate_chart(gates) -> alt.Chart:
    """One mark per decision: x the model's data day, y the outcome (several decisions on one day stack).

    ``nth`` numbers the decisions of one day and outcome (0, 1, ...): the marks of a day
    stack by it, and single decisions sit on one line.
    """
    frame, x_axis, span_field = components.with_span_axis(gates)
    frame = frame.assign(nth=frame.sort_values("id").groupby([span_field, "outcome"]).cumcount())
    return alt.Chart(frame).mark_circle(size=120, opacity=0.8).encode(
        x=x_axis, y=alt.Y("outcome:N", title=None, sort=["blessed", "failed"]),
        yOffset=alt.YOffset("nth:O", title=None),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["blessed", "failed"], range=["#2ca02c", "#d62728"])),
        tooltip=[alt.Tooltip("id:N", title="decision"), alt.Tooltip("model_id:N", title="model"),
                 alt.Tooltip(f"{span_field}:N", title="span"), "outcome:N",
                 alt.Tooltip("baseline_id:N", title="baseline")],
    ).properties(height=180)


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
    st.altair_chart(gate_chart(gates), width="stretch")
    only_failed = st.toggle("Only failed gates", value=False, key="only_failed")
    shown = (gates[~gates["blessed"]] if only_failed else gates).sort_values("id", ascending=False).head(1000)
    # Why each decision went as it did (the newest REASONS_SHOWN; each reads the decision's files once).
    shown = shown.assign(why=[data.decision_reason(uri, ver, int(r.id), None if pd.isna(r.evaluation_id)
                                                   else int(r.evaluation_id)) if i < REASONS_SHOWN else ""
                              for i, r in enumerate(shown.itertuples())])
    st.dataframe(components.display_spans(shown[
        ["id", "model_id", "outcome", "why", "baseline_id", "evaluation_id", "span", "created"]]),
        hide_index=True, width="stretch")


with components.guard():
    render()
