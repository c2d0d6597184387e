"""The text form of a lineage graph for the terminal: grouped by step, with types and spans.

One block per execution (nearest the start first), its inputs and outputs under it::

    Trainer execution:23 (span 20130104)
      in   examples         Examples artifact:23 (span 20130104)
      in   base_model       Model artifact:18 (span 20130103)
      out  model            Model artifact:25 (span 20130104)

Artifacts no drawn execution touches (e.g. the start of a graph cut by ``--depth``) are
listed last. ``--json`` and ``--dot`` keep the full graph.
"""

from __future__ import annotations

from collections import defaultdict

#: Above this many nodes the spans are not looked up (one query per node).
MAX_SPAN_LOOKUPS = 1000


def lineage_lines(store, graph) -> list[str]:
    """The graph as readable lines (see the module docstring)."""
    nodes = {str(n.id): n for n in graph.nodes}
    spans = _spans(store, graph) if len(nodes) <= MAX_SPAN_LOOKUPS else {}

    def label(key: str) -> str:
        node = nodes.get(key)
        kind = node.type if node is not None else "?"
        name = f" {node.name}" if node is not None and node.name else ""
        span = f" (span {spans[key]})" if key in spans else ""
        return f"{kind} {key}{name}{span}"

    inputs, outputs = defaultdict(list), defaultdict(list)
    touched = set()
    for e in graph.edges:
        source, target = str(e.source), str(e.target)
        if e.event_type == "INPUT":
            inputs[target].append((e.role, source))
        else:
            outputs[source].append((e.role, target))
        touched.update((source, target))
    executions = sorted((n for n in graph.nodes if n.id.kind == "execution"), key=lambda n: (n.depth, n.id.id))
    lines = []
    for n in executions:
        key = str(n.id)
        state = "" if n.state in ("COMPLETE", "CACHED") else f" [{n.state}]"
        lines.append(f"{label(key)}{state}")
        for direction, edges in (("in ", inputs[key]), ("out", outputs[key])):
            for role, other in sorted(edges):
                lines.append(f"  {direction}  {role:<16} {label(other)}")
    alone = [str(n.id) for n in graph.nodes if n.id.kind == "artifact" and str(n.id) not in touched]
    if alone:
        lines.append("artifacts without a step in this graph:")
        lines += [f"  {label(key)}" for key in alone]
    return lines


def _spans(store, graph) -> dict[str, int]:
    found = {}
    for n in graph.nodes:
        if n.id.kind == "artifact":
            span = store.artifact(n.id).span
        else:
            span = store.execution(n.id).properties.get("span")
        if span is not None:
            found[str(n.id)] = span
    return found
