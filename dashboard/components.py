"""Shared widgets: the page guard, empty states, pickers, charts and the lineage graph renderer."""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import contextmanager
from typing import Iterator

import altair as alt
import pandas as pd
import streamlit as st

from mlstore._dashboard import data
from mlstore import errors

#: Fill colours of lineage node types (others fall back to grey).
TYPE_COLOURS = {
    "Examples": "#a6cee3", "TransformGraph": "#b2df8a", "Model": "#fdbf6f", "ModelEvaluation": "#cab2d6",
    "ModelBlessing": "#fb9a99", "PushedModel": "#ffff99", "HubModule": "#8dd3c7", "File": "#e0e0e0",
}
EXECUTION_COLOUR = "#f0f0f0"
DEMO_HINT = ("Record runs with `mlstore.run(...)` in your pipeline, or fill a store with the flights demo, "
             "then open it with `mlstore dashboard --store PATH`.")


@contextmanager
def guard() -> Iterator[None]:
    """Shows mlstore errors as a message with what to do, instead of a traceback."""
    try:
        yield
    except errors.Unavailable as e:
        st.error(f"The store is unavailable: {e}. Check `--store` / `--server` and that the server is running.")
    except errors.FailedPrecondition as e:
        st.error(str(e))
    except errors.NotFound as e:
        st.warning(f"Not found: {e}")
    except errors.MlstoreError as e:
        st.error(f"{type(e).__name__}: {e}")


def context() -> tuple[str | None, int]:
    """(store URI, store version) for cache keys; opens the store (errors go to :func:`guard`)."""
    uri = data.store_uri()
    return uri, data.version(data.store())


def pipeline_picker(uri: str | None, ver: int) -> str | None:
    """A pipeline selectbox in the sidebar; shows the empty state and returns None when there is none."""
    names = data.pipelines(uri, ver)
    if not names:
        st.info(f"This store has no runs yet ({uri or './.mlstore'}). {DEMO_HINT}")
        return None
    wanted = st.query_params.get("pipeline")
    index = names.index(wanted) if wanted in names else 0
    return st.sidebar.selectbox("Pipeline", names, index=index, key="pipeline")


def spans_are_dates(spans) -> bool:
    """True when every span reads as a date YYYYMMDD (as the flights demo's spans do)."""
    values = [int(s) for s in pd.Series(spans).dropna()]
    if not values:
        return False
    try:
        return all(19000101 <= v <= 29991231 and pd.Timestamp(str(v)) is not None for v in values)
    except ValueError:
        return False


def span_label(span, as_date: bool) -> str:
    """A span as shown in tables and labels: ``2013-01-02`` for date spans, else ``20130102`` (no separators)."""
    if span is None or (isinstance(span, float) and pd.isna(span)):
        return "–"
    value = int(span)
    if as_date:
        text = str(value)
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return str(value)


def with_span_axis(frame: pd.DataFrame) -> tuple[pd.DataFrame, alt.X, str]:
    """The frame with a ``day`` column for the x axis, the axis and the tooltip field.

    Date spans plot on a time axis (``day``: a datetime); other spans on an integer axis
    without thousands separators (``day``: the span, formatted ``d``).
    """
    if frame["span"].isna().all():  # nothing recorded a span: place points by model id
        frame = frame.assign(span_text="–", day=frame["model_id"].astype(int))
        return frame, alt.X("day:Q", title="model id", axis=alt.Axis(format="d"), scale=alt.Scale(zero=False)), \
            "span_text"
    frame = frame[frame["span"].notna()]
    as_date = spans_are_dates(frame["span"])
    frame = frame.assign(span_text=[span_label(s, as_date) for s in frame["span"]])
    if as_date:
        frame = frame.assign(day=pd.to_datetime(frame["span"].astype(int).astype(str), format="%Y%m%d"))
        days = max(1, (frame["day"].max() - frame["day"].min()).days)
        # One tick per whole day (or per few days on long ranges), never several per day.
        ticks = {"interval": "day", "step": max(1, -(-days // 14))}
        axis = alt.X("day:T", title="data day", axis=alt.Axis(format="%Y-%m-%d", labelAngle=-30, tickCount=ticks))
    else:
        frame = frame.assign(day=frame["span"].astype(int))
        axis = alt.X("day:Q", title="span", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False))
    return frame, axis, "span_text"


def display_spans(frame: pd.DataFrame, columns=("span",)) -> pd.DataFrame:
    """A copy of a table whose span columns read as dates (date spans) or plain integers (text)."""
    out = frame.copy()
    for column in columns:
        if column in out and not out.empty:
            as_date = spans_are_dates(out[column])
            out[column] = [span_label(s, as_date) for s in out[column]]
    return out


def metric_chart(frame: pd.DataFrame, metric: str) -> alt.Chart:
    """Metric by span, one line per slice; blessed (●) and failed-gate (✕) models marked.

    ``frame`` columns: span, value, slice, model_id, gate ("blessed", "failed", "no gate").
    Points are selectable (single click) under the selection name ``point``. Date spans
    plot as dates (:func:`with_span_axis`).
    """
    frame, x_axis, span_field = with_span_axis(frame)
    pick = alt.selection_point(name="point", fields=["model_id"], on="click")
    base = alt.Chart(frame).encode(
        x=x_axis,
        y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("slice:N", title="slice"),
    )
    line = base.mark_line(strokeWidth=1.5)
    points = base.mark_point(filled=True, size=40).encode(
        shape=alt.Shape("gate:N", title="gate", scale=alt.Scale(
            domain=["blessed", "failed", "no gate"], range=["circle", "cross", "triangle"])),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("model_id:N", title="model"), alt.Tooltip(f"{span_field}:N", title="span"),
                 "slice:N", alt.Tooltip("value:Q", format=".4f"), "gate:N"],
    ).add_params(pick)
    return (line + points).properties(height=420).interactive(bind_y=False)


def bar_chart(frame: pd.DataFrame, metric: str) -> alt.Chart:
    """One bar per slice of ``metric``, labelled with its example count.

    ``frame`` columns: slice, value and optionally examples (the slice's example count).
    """
    if "examples" in frame:
        frame = frame.assign(label=[f"{s} (n={int(n)})" if pd.notna(n) else s
                                    for s, n in zip(frame["slice"], frame["examples"])])
    else:
        frame = frame.assign(label=frame["slice"], examples=None)
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:Q", title=metric), y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["slice:N", alt.Tooltip("value:Q", format=".4f"), alt.Tooltip("examples:Q", title="examples", format="d")],
    ).properties(height=alt.Step(26))  # a fixed band per slice: every label stays readable


def heat_map(frame: pd.DataFrame, metric: str) -> alt.Chart:
    """Slice × day heat map of ``metric`` (frame columns slice, span, value)."""
    frame, _, span_field = with_span_axis(frame)
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X(f"{span_field}:O", title="data day" if spans_are_dates(frame["span"]) else "span",
                axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("slice:N", title=None, sort=sorted(frame["slice"].unique(), key=lambda k: (k != "Overall", k)),
                axis=alt.Axis(labelOverlap=False, labelLimit=220)),
        color=alt.Color("value:Q", title=metric, scale=alt.Scale(scheme="redyellowgreen",
                                                               reverse=metric in data.LOWER_IS_BETTER)),
        tooltip=["slice:N", alt.Tooltip(f"{span_field}:N", title="span"), alt.Tooltip("value:Q", format=".4f"),
                 alt.Tooltip("model_id:N", title="model")],
    ).properties(height=alt.Step(24))  # a band per slice tall enough for its label


def line_plot(frame: pd.DataFrame, x: str, y: str, title: str) -> alt.Chart:
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X(f"{x}:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y(f"{y}:Q", scale=alt.Scale(domain=[0, 1])),
    ).properties(title=title, height=260)


# -- lineage graph ---------------------------------------------------------------------

def _label(node, span: str | None = None) -> str:
    name = f"\\n{node.name}" if node.name else ""
    when = f"\\n{span}" if span else ""
    return f"{node.type}\\n{node.id}{name}{when}"


def drawn_nodes(graph, limit: int) -> list:
    """The ``limit`` nodes nearest the start (those :func:`lineage_dot` draws)."""
    return sorted(graph.nodes, key=lambda n: (n.depth, n.id))[:limit]


def lineage_dot(graph, limit: int = 60, focus: str | None = None,
                spans: dict[str, str] | None = None) -> tuple[str, dict[str, int]]:
    """DOT source of a lineage graph, collapsing nodes beyond ``limit``.

    The ``limit`` nodes nearest the start are drawn (labelled type, id, name and, from
    ``spans`` ({node id: span text}), the data day); the rest are folded into one
    "+N Type" node per type, attached where they connect to drawn nodes.

    Returns:
        (DOT text, {type: number of collapsed nodes}).
    """
    spans = spans or {}
    nodes = sorted(graph.nodes, key=lambda n: (n.depth, n.id))
    kept = {str(n.id): n for n in nodes[:limit]}
    hidden = {str(n.id): n for n in nodes[limit:]}
    collapsed = Counter(n.type for n in hidden.values())
    # Font sizes in points at graphviz's scale: readable once the graph is fitted to the page width.
    # Top to bottom: a chain of days grows downwards, so the page width stays that of the
    # widest step and the chart is not shrunk until its 16 pt labels are unreadable.
    lines = ["digraph lineage {", "  rankdir=TB;", "  graph [nodesep=0.3, ranksep=0.5];",
             '  node [style=filled, fontname="Helvetica", fontsize=16, margin="0.15,0.06"];',
             '  edge [fontname="Helvetica", fontsize=13];']
    for key, n in kept.items():
        shape = "box" if n.id.kind == "artifact" else "ellipse"
        colour = TYPE_COLOURS.get(n.type, "#dddddd") if n.id.kind == "artifact" else EXECUTION_COLOUR
        border = ', penwidth=3, color="#d62728"' if key == focus else ""
        dashed = ', style="filled,dashed"' if n.state in ("DELETED", "FAILED", "ABANDONED") else ""
        lines.append(f'  "{key}" [shape={shape}, fillcolor="{colour}", label="{_label(n, spans.get(key))}"{border}{dashed}];')
    for type_name, count in sorted(collapsed.items()):
        lines.append(f'  "more:{type_name}" [shape=folder, fillcolor="#ffffff", label="+{count} {type_name}"];')
    seen: set[tuple[str, str]] = set()
    for e in graph.edges:
        src, dst = str(e.source), str(e.target)
        src = src if src in kept else f"more:{hidden[src].type}" if src in hidden else None
        dst = dst if dst in kept else f"more:{hidden[dst].type}" if dst in hidden else None
        if src is None or dst is None or src == dst or (src, dst) in seen:
            continue
        seen.add((src, dst))
        label = e.role if src in kept and dst in kept else ""
        lines.append(f'  "{src}" -> "{dst}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n", dict(collapsed)


def neighbours(graph, node: str) -> list[tuple[str, str]]:
    """(node id, "role → Type") of nodes one edge away from ``node``."""
    types = {str(n.id): n.type for n in graph.nodes}
    found: dict[str, str] = defaultdict(str)
    for e in graph.edges:
        src, dst = str(e.source), str(e.target)
        if src == node and dst in types:
            found[dst] = f"{e.role} → {types[dst]}"
        elif dst == node and src in types:
            found[src] = f"{types[src]} → {e.role}"
    return sorted(found.items())
