"""Lineage explorer: the graph around any artifact or execution, with direction/depth controls."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data


def _start_node(uri, ver, pipeline: str) -> str | None:
    wanted = st.query_params.get("node")
    if not wanted:
        reruns = data.rerun_outputs(uri, ver, pipeline)
        models = [m for m in data.newest_artifacts(uri, ver, "Model", pipeline, 20) if m.id not in reruns]
        artifacts = models or data.newest_artifacts(uri, ver, None, pipeline, 1)
        if not artifacts:
            st.info(f"Pipeline **{pipeline}** has no artifacts yet.")
            return None
        wanted = f"artifact:{artifacts[0].id}"
    ref = st.sidebar.text_input("Start node (artifact:N, execution:N or sha256:prefix)", wanted, key="node_ref")
    node = data.store().resolve(ref.strip())  # NotFound / InvalidArgument → the page guard
    return str(node)


def render() -> None:
    st.title("Lineage explorer")
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    node = _start_node(uri, ver, pipeline)
    if node is None:
        return
    c1, c2, c3 = st.columns(3)
    direction = c1.radio("Direction", ["up", "down", "both"], horizontal=True, key="direction")
    depth = c2.slider("Depth (hops)", 1, 40, 4, key="depth")
    limit = c3.slider("Draw at most (nodes)", 10, 300, 60, key="limit")
    graph = data.lineage(uri, ver, node, direction, depth)
    dot, collapsed = components.lineage_dot(graph, limit, focus=node, spans=_spans(uri, ver, graph, limit))
    folded = sum(collapsed.values())
    st.caption(f"{len(graph.nodes)} nodes, {len(graph.edges)} edges around {node}"
               + (f" · {folded} beyond the limit folded into per-type counts" if folded else ""))
    st.graphviz_chart(dot, width="stretch")
    _move(graph, node)
    _details(uri, ver, node)


def _spans(uri, ver, graph, limit: int) -> dict[str, str]:
    """{node id: span as shown} of the drawn nodes that record one (artifacts and executions)."""
    found = {}
    for n in components.drawn_nodes(graph, limit):
        record = data.artifact(uri, ver, str(n.id)) if n.id.kind == "artifact" else data.execution(uri, ver, str(n.id))
        span = record.span if n.id.kind == "artifact" else record.properties.get("span")
        if span is not None:
            found[str(n.id)] = span
    as_date = components.spans_are_dates(list(found.values()))
    return {k: components.span_label(v, as_date) for k, v in found.items()}


def _move(graph, node: str) -> None:
    """Click-to-move: pick a neighbour and the graph re-centres on it (kept in the URL)."""
    options = components.neighbours(graph, node)
    if not options:
        return
    labels = dict(options)
    col, button = st.columns([3, 1])
    target = col.selectbox("Move to a neighbour", list(labels), format_func=lambda k: f"{k} ({labels[k]})",
                           key="neighbour")
    if button.button("Move", key="move"):
        st.query_params["node"] = target
        st.session_state.pop("node_ref", None)
        st.rerun()


def _details(uri, ver, node: str) -> None:
    with st.expander("Node details", expanded=False):
        kind = node.split(":")[0]
        record = data.artifact(uri, ver, node) if kind == "artifact" else data.execution(uri, ver, node)
        st.json(record.to_json())
        events = data.events(uri, ver, node)
        if events:
            st.dataframe(pd.DataFrame([e.__dict__ for e in events]), hide_index=True)


with components.guard():
    render()
