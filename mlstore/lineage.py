"""Lineage graphs: typed result, and the traversal over the index's edge table.

Depth counts hops like MLMD's ``max_num_hops``: artifact → execution is one hop, so
"the step that made this model and its inputs" is depth 2. ``both`` is the union of
the upstream and the downstream graphs (not the whole connected component, which
would pull in every sibling). There is no silent cap: an unbounded query returns
every reachable node.

Unbounded and deep queries run one recursive SQL query (SQLite, MySQL/MariaDB and
PostgreSQL all support ``WITH RECURSIVE``); shallow ones walk level by level, which
touches only the nodes within reach.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Engine

from mlstore.errors import InvalidArgument
from mlstore.index import tables as t
from mlstore.types import NodeId

Direction = Literal["up", "down", "both"]

#: Bounded queries up to this depth walk level by level; deeper ones use recursive SQL.
LEVEL_WALK_MAX_DEPTH = 24
_CHUNK = 2000


@dataclass(frozen=True, order=True)
class LineageNode:
    id: NodeId
    type: str
    name: str | None
    state: str
    depth: int  # hops from the nearest start node

    def to_json(self) -> dict:
        return {"id": str(self.id), "kind": self.id.kind, "type": self.type, "name": self.name,
                "state": self.state, "depth": self.depth}


@dataclass(frozen=True, order=True)
class LineageEdge:
    """A lineage edge in data-flow direction: artifact → execution (INPUT) or execution → artifact (OUTPUT)."""

    source: NodeId
    target: NodeId
    event_type: str  # "INPUT" or "OUTPUT"
    role: str

    def to_json(self) -> dict:
        return {"source": str(self.source), "target": str(self.target),
                "event_type": self.event_type, "role": self.role}


@dataclass(frozen=True)
class LineageGraph:
    """Nodes sorted by id (artifacts first), edges sorted by (source, target, role)."""

    start: tuple[NodeId, ...]
    direction: str
    depth: int | None
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]

    def to_json(self) -> dict:
        return {
            "start": [str(s) for s in self.start],
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    def to_dot(self) -> str:
        """The graph in Graphviz DOT (artifacts as boxes, executions as ellipses)."""
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for n in self.nodes:
            shape = "box" if n.id.kind == "artifact" else "ellipse"
            label = f"{n.type}\\n{n.id}" + (f"\\n{n.name}" if n.name else "")
            style = ', style="dashed"' if n.state == "DELETED" else ""
            lines.append(f'  "{n.id}" [shape={shape}, label="{label}"{style}];')
        for e in self.edges:
            lines.append(f'  "{e.source}" -> "{e.target}" [label="{e.role}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _key(node: NodeId) -> int:
    kind = t.ARTIFACT_KIND if node.kind == "artifact" else t.EXECUTION_KIND
    return t.node_key(kind, node.id)


def _node_id(key: int) -> NodeId:
    kind, node_id = t.split_node_key(key)
    return NodeId("artifact" if kind == t.ARTIFACT_KIND else "execution", node_id)


# An edge row: (src key, dst key, is_output, role)
EdgeRow = tuple[int, int, bool, str]


def _edges_recursive(engine: Engine, starts: list[int], upstream: bool) -> list[EdgeRow]:
    """Every edge reachable from ``starts`` in one direction, by one recursive query."""
    near, far = ("dst", "src") if upstream else ("src", "dst")
    sql = text(
        f"""
        WITH RECURSIVE reach(node) AS (
            SELECT node FROM mlstore_artifact WHERE node IN :starts
            UNION
            SELECT node FROM mlstore_execution WHERE node IN :starts
            UNION
            SELECT e.{far} FROM mlstore_event e JOIN reach r ON e.{near} = r.node
        )
        SELECT e.src, e.dst, e.is_output, e.role
        FROM mlstore_event e JOIN reach r ON e.{near} = r.node
        """
    ).bindparams(bindparam("starts", expanding=True))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sql, {"starts": starts})]


def _edges_by_level(engine: Engine, starts: list[int], upstream: bool, depth: int) -> list[EdgeRow]:
    """Edges within ``depth`` hops of ``starts``, one query per level."""
    near = t.event.c.dst if upstream else t.event.c.src
    columns = (t.event.c.src, t.event.c.dst, t.event.c.is_output, t.event.c.role)
    seen, frontier, edges = set(starts), list(starts), []
    with engine.connect() as connection:
        for _ in range(depth):
            if not frontier:
                break
            found = []
            for i in range(0, len(frontier), _CHUNK):
                chunk = frontier[i:i + _CHUNK]
                found += connection.execute(select(*columns).where(near.in_(chunk))).all()
            edges += [tuple(r) for r in found]
            nxt = {r[0] if upstream else r[1] for r in found} - seen
            seen |= nxt
            frontier = sorted(nxt)
    return edges


def _depths(starts: Iterable[int], edges: Sequence[EdgeRow], upstream: bool) -> dict[int, int]:
    adjacency: dict[int, list[int]] = {}
    for src, dst, _, _ in edges:
        a, b = (dst, src) if upstream else (src, dst)
        adjacency.setdefault(a, []).append(b)
    depth = {s: 0 for s in starts}
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        for nxt in adjacency.get(node, ()):
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    return depth


def _walk(engine: Engine, starts: list[int], upstream: bool, depth: int | None):
    if depth is not None and depth <= LEVEL_WALK_MAX_DEPTH:
        edges = _edges_by_level(engine, starts, upstream, depth)
    else:
        edges = _edges_recursive(engine, starts, upstream)
    depths = _depths(starts, edges, upstream)
    if depth is not None:
        depths = {k: d for k, d in depths.items() if d <= depth}
        edges = [e for e in edges if e[0] in depths and e[1] in depths]
    return edges, depths


def _node_details(engine: Engine, keys: list[int]) -> dict[int, tuple[str, str | None, str]]:
    """``node key -> (type, name, state)`` for artifacts and executions."""
    details: dict[int, tuple[str, str | None, str]] = {}
    a, e = t.artifact.c, t.execution.c
    with engine.connect() as connection:
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i:i + _CHUNK]
            for node, type_, name, state in connection.execute(
                select(a.node, a.type, a.name, a.state).where(a.node.in_(chunk))
            ):
                details[node] = (type_, name, state)
            for node, type_, state in connection.execute(
                select(e.node, e.type, e.state).where(e.node.in_(chunk))
            ):
                details[node] = (type_, None, state)
    return details


def query_lineage(
    engine: Engine,
    start: Sequence[NodeId],
    direction: Direction = "up",
    depth: int | None = None,
    types: Sequence[str] = (),
) -> LineageGraph:
    """The lineage graph around ``start`` (see the module docstring for semantics).

    Args:
        engine: the index database.
        start: one or more start nodes (they must exist; see Store.lineage).
        direction: "up" (what it was made from), "down" (what was made from it), "both".
        depth: maximum hops, or None for no limit.
        types: keep only nodes of these types (start nodes are always kept); edges are
            kept when both ends are.

    Raises:
        InvalidArgument: bad direction or a negative depth.
    """
    if direction not in ("up", "down", "both"):
        raise InvalidArgument(f"direction must be up, down or both, not {direction!r}")
    if depth is not None and depth < 0:
        raise InvalidArgument(f"depth must be >= 0, got {depth}")
    starts = sorted({_key(s) for s in start})
    edges: set[EdgeRow] = set()
    depths: dict[int, int] = {}
    for upstream in {"up": (True,), "down": (False,), "both": (True, False)}[direction]:
        found, found_depths = _walk(engine, starts, upstream, depth)
        edges.update(found)
        for key, d in found_depths.items():
            depths[key] = min(d, depths.get(key, d))
    details = _node_details(engine, sorted(depths))
    wanted = set(types)
    keep = {k for k in depths if k in details and (not wanted or details[k][0] in wanted or k in starts)}
    # Sort on plain integers (artifacts first, then by id): comparing dataclasses is slow.
    nodes = [
        LineageNode(_node_id(k), *details[k], depths[k])
        for k in sorted(keep, key=lambda k: (k % 2, k))
    ]
    graph_edges = [
        LineageEdge(_node_id(src), _node_id(dst), "OUTPUT" if is_output else "INPUT", role)
        for src, dst, is_output, role in sorted(edges, key=lambda e: (e[0] % 2, e[0], e[1] % 2, e[1], e[3]))
        if src in keep and dst in keep
    ]
    return LineageGraph(tuple(_node_id(s) for s in starts), direction, depth, tuple(nodes), tuple(graph_edges))
