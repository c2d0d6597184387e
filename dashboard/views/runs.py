"""Runs: list and filter executions; diff two of them (params, code, environment, inputs, outputs)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data

STATES = ["any", "COMPLETE", "FAILED", "CACHED", "RUNNING", "CANCELED"]
STEPS = ["any", "ExampleGen", "Transform", "Trainer", "Evaluator", "Gate", "Pusher", "HubPublish"]
_DIFF_KEYS = ("params", "git_commit", "git_dirty", "git_diff_digest", "code_digest", "environment_digest",
              "python_version", "packages", "host", "seeds", "command", "cache_key", "error")


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
        _diff(uri, ver, list(table["execution"]))


def _io(uri, ver, ref: str) -> dict[str, str]:
    out = {}
    for ev in data.events(uri, ver, ref):
        a = data.artifact(uri, ver, f"artifact:{ev.artifact_id}")
        out[f"{'output' if ev.is_output else 'input'} {ev.role}"] = f"{a.type} {a.digest}"
    return out


def _flat(uri, ver, ref: str) -> dict[str, str]:
    e = data.execution(uri, ver, ref)
    flat = {"step": e.type, "state": e.state}
    flat.update({k: str(e.properties[k]) for k in _DIFF_KEYS if k in e.properties})
    params = data.parse_json(e.properties.get("params"))
    if isinstance(params, dict):
        flat.update({f"param {k}": str(v) for k, v in sorted(params.items())})
    packages = data.parse_json(e.properties.get("packages"))
    if isinstance(packages, dict):
        flat.pop("packages", None)
        flat.update({f"package {k}": str(v) for k, v in sorted(packages.items())})
    flat.update(_io(uri, ver, ref))
    return flat


def _diff(uri, ver, refs: list[str]) -> None:
    st.subheader("Compare two runs")
    c1, c2 = st.columns(2)
    left = c1.selectbox("Run A", refs, index=1, key="run_a")
    right = c2.selectbox("Run B", refs, index=0, key="run_b")
    a, b = _flat(uri, ver, left), _flat(uri, ver, right)
    rows = [{"field": k, "A": a.get(k, "–"), "B": b.get(k, "–"), "same": a.get(k) == b.get(k)}
            for k in sorted(set(a) | set(b))]
    frame = pd.DataFrame(rows)
    show_all = st.toggle("Show identical fields", value=False, key="show_same")
    differ = frame[~frame["same"]]
    st.caption(f"{len(differ)} of {len(frame)} fields differ")
    st.dataframe((frame if show_all else differ).drop(columns="same"), hide_index=True, width="stretch")


with components.guard():
    render()
