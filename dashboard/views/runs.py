"""Runs: list and filter executions; diff two of them with ``Store.diff`` (as ``mlstore diff``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data
from mlstore.diff import SECTIONS, format_value

STATES = ["any", "COMPLETE", "FAILED", "CACHED", "RUNNING", "CANCELED"]
STEPS = ["any", "ExampleGen", "Transform", "Trainer", "Evaluator", "Gate", "Pusher", "HubPublish"]


def _table(executions) -> pd.DataFrame:
    rows = [{"execution": f"execution:{e.id}", "step": e.type, "state": e.state, "pipeline": e.pipeline,
             "run_id": e.properties.get("run_id"),
             "rerun of": f"execution:{e.properties['rerun_of']}" if e.properties.get("rerun_of") is not None else "",
             "started": pd.to_datetime(e.create_time_ms, unit="ms")} for e in executions]
    return pd.DataFrame(rows, columns=["execution", "step", "state", "pipeline", "run_id", "rerun of", "started"])


def render() -> None:
    st.title("Runs")
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    c1, c2, c3, c4 = st.columns(4)
    step = c1.selectbox("Step", STEPS, key="step")
    state = c2.selectbox("Status", STATES, key="state")
    newest = c3.number_input("Newest", 10, 5000, 200, step=50, key="newest")
    since = c4.date_input("Started on or after", value=None, key="since")
    since_ms = None if since is None else int(pd.Timestamp(dt.datetime.combine(since, dt.time())).timestamp() * 1000)
    executions = data.newest_executions(uri, ver, None if step == "any" else step, pipeline,
                                        None if state == "any" else state, int(newest), since_ms)
    table = _table(executions)
    reruns = int((table["rerun of"] != "").sum())
    st.caption(f"{len(table)} executions (newest first)"
               + (f" · {reruns} rerun(s) by `mlstore rerun`, verifying a recorded step" if reruns else ""))
    st.dataframe(table, hide_index=True, width="stretch")
    if len(table) >= 2:
        _diff(uri, ver, list(table["execution"]), _default_a(table))


@st.cache_data(show_spinner=False, max_entries=64)
def _run_diff(uri, ver: int, a: str, b: str) -> dict:
    """``Store.diff`` (the same call as ``mlstore diff``), as JSON."""
    return data.store().diff(a, b).to_json()


def _default_a(table: pd.DataFrame) -> int:
    """The row compared with the newest run by default: what it re-ran when it is a rerun,
    else the previous run of the same step (else simply the previous run)."""
    newest = table.iloc[0]
    refs = list(table["execution"])
    if newest["rerun of"] in refs:
        return refs.index(newest["rerun of"])
    same_step = [i for i in range(1, len(table)) if table.iloc[i]["step"] == newest["step"]]
    return same_step[0] if same_step else 1


def _diff(uri, ver, refs: list[str], default_a: int) -> None:
    st.subheader("Compare two runs")
    c1, c2 = st.columns(2)
    left = c1.selectbox("Run A", refs, index=default_a, key="run_a")
    right = c2.selectbox("Run B", refs, index=0, key="run_b")
    result = _run_diff(uri, ver, left, right)
    rows = [{"section": name.replace("_", " "), "field": c["key"], "A": format_value(c["a"]),
             "B": format_value(c["b"])} for name in SECTIONS for c in result["sections"][name]]
    same = [name.replace("_", " ") for name in SECTIONS if not result["sections"][name]]
    st.caption("identical runs" if result["identical"] else
               f"{len(rows)} differences · same: {', '.join(same) or '-'} · `mlstore diff {left} {right}` "
               f"prints the same")
    st.dataframe(pd.DataFrame(rows, columns=["section", "field", "A", "B"]), hide_index=True, width="stretch")
    for note in result["notes"]:
        st.caption(f"note: {note}")


with components.guard():
    render()
