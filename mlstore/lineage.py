"""Lineage graphs: the typed result and the traversal over the index's edges.

Depth counts hops like MLMD's ``max_num_hops``: artifact → execution is one hop, so
"the step that made this model and its inputs" is depth 2. ``both`` is the union of
the upstream and the downstream graphs (not the whole connected component, which
would pull in every sibling). There is no silent cap: an unbounded query returns
every reachable node.

Two interchangeable engines answer a query: :class:`~mlstore.index.graph_cache.GraphCache`
(an in-memory adjacency matrix walked in C; what the Store uses) and recursive SQL
(``WITH RECURSIVE`` on SQLite, MySQL/MariaDB and PostgreSQL; used without a cache and
to cross-check the cache in tests).

A graph keeps its nodes and edges as columns; :attr:`LineageGraph.nodes` and
:attr:`LineageGraph.edges` build the typed objects on first access, and
:meth:`LineageGraph.to_json` writes straight from the columns.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Engine

from mlstore.errors import InvalidArgument
from mlstore.index import tables as t
from mlstore.index.graph_cache import GraphCache, node_order
from mlstore.index.graph_scopes import ScopedCaches, ScopeGrows
from mlstore.types import NodeId

Direction = Literal["up", "down", "both"]

_CHUNK = 2000
_KINDS = ("artifact", "execution")


class CodedStrings(Sequence):
    """A read-only column of strings kept as int codes into a small dictionary.

    Why: a graph of 60,000 nodes has a handful of types, states and roles; the cache
    holds them as codes, and an encoder (the gRPC server) sends codes and dictionary
    without ever building 60,000 Python strings.
    """

    __slots__ = ("codes", "names")

    def __init__(self, codes: np.ndarray, names: Sequence[str | None]):
        self.codes = codes
        self.names = names

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.names[self.codes[index]]
        return CodedStrings(self.codes[index], self.names)

    def __iter__(self):
        return map(self.names.__getitem__, self.codes.tolist())


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
    """An edge in data-flow direction: artifact → execution (INPUT) or execution → artifact (OUTPUT)."""

    source: NodeId
    target: NodeId
    event_type: str  # "INPUT" or "OUTPUT"
    role: str

    def to_json(self) -> dict:
        return {"source": str(self.source), "target": str(self.target),
                "event_type": self.event_type, "role": self.role}


def _node_id(key: int) -> NodeId:
    kind, node_id = t.split_node_key(int(key))
    return NodeId(_KINDS[kind], node_id)


def _key(node: NodeId) -> int:
    return t.node_key(_KINDS.index(node.kind), node.id)


def _label(key: int) -> str:
    return f"{_KINDS[key % 2]}:{key // 2}"


class LineageGraph:
    """A lineage graph: nodes sorted artifacts first, then by id; edges by (source, target, role)."""

    def __init__(self, start: Sequence[NodeId], direction: str, depth: int | None,
                 node_columns: tuple, edge_columns: tuple):
        self.start = tuple(start)
        self.direction = direction
        self.depth = depth
        # node columns: keys, types, names, states, depths; edge: src keys, dst keys, is_output, roles
        self._keys, self._types, self._names, self._states, self._depths = node_columns
        self._src, self._dst, self._is_output, self._roles = edge_columns

    @classmethod
    def from_objects(cls, start: Sequence[NodeId], direction: str, depth: int | None,
                     nodes: Sequence[LineageNode], edges: Sequence[LineageEdge]) -> "LineageGraph":
        """A graph from already sorted node and edge objects (e.g. received over gRPC)."""
        node_columns = (np.asarray([_key(n.id) for n in nodes], np.int64), [n.type for n in nodes],
                        [n.name for n in nodes], [n.state for n in nodes],
                        np.asarray([n.depth for n in nodes], np.int64))
        edge_columns = (np.asarray([_key(e.source) for e in edges], np.int64),
                        np.asarray([_key(e.target) for e in edges], np.int64),
                        np.asarray([e.event_type == "OUTPUT" for e in edges], bool), [e.role for e in edges])
        return cls(start, direction, depth, node_columns, edge_columns)

    def columns(self) -> tuple[tuple, tuple]:
        """The raw columns, for encoders (e.g. the gRPC server): ``(node keys, types, names,
        states, depths), (source keys, target keys, is_output, roles)``; keys are
        :func:`mlstore.index.tables.node_key` values in numpy arrays."""
        return ((self._keys, self._types, self._names, self._states, self._depths),
                (self._src, self._dst, self._is_output, self._roles))

    @property
    def node_count(self) -> int:
        return len(self._keys)

    @property
    def edge_count(self) -> int:
        return len(self._src)

    @functools.cached_property
    def nodes(self) -> tuple[LineageNode, ...]:
        return tuple(LineageNode(_node_id(k), ty, name, state, int(d)) for k, ty, name, state, d in
                     zip(self._keys, self._types, self._names, self._states, self._depths))

    @functools.cached_property
    def edges(self) -> tuple[LineageEdge, ...]:
        return tuple(LineageEdge(_node_id(s), _node_id(d), "OUTPUT" if out else "INPUT", role)
                     for s, d, out, role in zip(self._src, self._dst, self._is_output, self._roles))

    def to_json(self) -> dict:
        return {
            "start": [str(s) for s in self.start],
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [{"id": _label(k), "kind": _KINDS[k % 2], "type": ty, "name": name, "state": state,
                       "depth": int(d)}
                      for k, ty, name, state, d in zip(self._keys.tolist(), self._types, self._names,
                                                       self._states, self._depths.tolist())],
            "edges": [{"source": _label(s), "target": _label(d), "event_type": "OUTPUT" if out else "INPUT",
                       "role": role}
                      for s, d, out, role in zip(self._src.tolist(), self._dst.tolist(),
                                                 self._is_output.tolist(), self._roles)],
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineageGraph) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return (f"LineageGraph(start={[str(s) for s in self.start]}, direction={self.direction!r}, "
                f"depth={self.depth}, nodes={self.node_count}, edges={self.edge_count})")

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


def _check(direction: str, depth: int | None) -> None:
    if direction not in ("up", "down", "both"):
        raise InvalidArgument(f"direction must be up, down or both, not {direction!r}")
    if depth is not None and depth < 0:
        raise InvalidArgument(f"depth must be >= 0, got {depth}")


def _directions(direction: str) -> tuple[bool, ...]:
    return {"up": (True,), "down": (False,), "both": (True, False)}[direction]


# --------------------------------------------------------------------------- cache engine


def lineage_from_cache(cache: GraphCache, start: Sequence[NodeId], direction: Direction = "up",
                       depth: int | None = None, types: Sequence[str] = ()) -> LineageGraph:
    """The lineage graph computed on the in-memory adjacency cache (see module docstring)."""
    _check(direction, depth)
    start_keys = sorted({_key(s) for s in start})
    non_live = cache.refresh(start_keys)
    walks = [cache.walk(start_keys, upstream, depth) for upstream in _directions(direction)]
    nodes = np.concatenate([w.nodes for w in walks])
    depths = np.concatenate([w.depths for w in walks])
    if len(walks) > 1:  # a node reached both ways keeps its smaller depth
        order = np.lexsort((depths, nodes))
        nodes, depths = nodes[order], depths[order]
        first = np.ones(len(nodes), bool)
        first[1:] = nodes[1:] != nodes[:-1]
        nodes, depths = nodes[first], depths[first]
    edge_rows = walks[0].edge_rows if len(walks) == 1 else np.unique(np.concatenate([w.edge_rows for w in walks]))
    if types:
        wanted = np.isin(np.arange(len(cache.type_names)), [i for i, n in enumerate(cache.type_names) if n in types])
        keep = wanted[cache.type_codes[nodes]] | np.isin(cache.keys[nodes], start_keys)
        nodes, depths = nodes[keep], depths[keep]
    nodes, depths = cache.sort_nodes(nodes, depths)
    keys = cache.keys[nodes]
    if types:  # nothing sized to the whole graph: a shallow query costs what it returns
        edge_rows = edge_rows[np.isin(cache.src[edge_rows], nodes) & np.isin(cache.dst[edge_rows], nodes)]
    rows = cache.sort_edges(edge_rows)
    src, dst, role_codes = cache.keys[cache.src[rows]], cache.keys[cache.dst[rows]], cache.role_codes[rows]
    node_columns = (keys, CodedStrings(cache.type_codes[nodes], list(cache.type_names)),
                    CodedStrings(cache.name_codes[nodes], list(cache.name_values)),
                    _states(cache, nodes, keys, non_live), depths)
    edge_columns = (src, dst, cache.is_output[rows], CodedStrings(role_codes, list(cache.roles)))
    return LineageGraph([_node_id(k) for k in start_keys], direction, depth, node_columns, edge_columns)


def lineage_in_scopes(whole: GraphCache, scopes: ScopedCaches, start: Sequence[NodeId], direction: Direction = "up",
                      depth: int | None = None, types: Sequence[str] = ()) -> LineageGraph:
    """The lineage graph from the whole-graph cache while the store fits the scopes' edge
    bound, else from the cache of the start nodes' pipelines (see :mod:`mlstore.index.graph_scopes`)."""
    _check(direction, depth)
    if scopes.store_edges() <= scopes.max_edges:
        return lineage_from_cache(whole, start, direction, depth, types)
    whole.clear()  # the store outgrew the bound: the whole graph is not kept
    pipelines = scopes.pipelines_of(sorted({_key(s) for s in start}))
    while pipelines is not None:
        cache = scopes.cache_for(pipelines)
        try:
            graph = lineage_from_cache(cache, start, direction, depth, types)
        except ScopeGrows as grows:  # lineage crosses into other pipelines: one scope for all of them
            pipelines = None if grows.pipelines is None else cache.pipelines | grows.pipelines
            continue
        except KeyError:  # a start node no event of its pipeline touches
            break
        scopes.evict()
        return graph
    return lineage_from_cache(whole, start, direction, depth, types)


def _states(cache: GraphCache, nodes: np.ndarray, keys: np.ndarray, non_live: dict[int, str]) -> CodedStrings:
    """Executions keep the state they were recorded with; artifacts are LIVE unless the
    fresh ``non_live`` map says otherwise (garbage collection changes them)."""
    codes = cache.state_codes[nodes]
    codes[keys % 2 == t.ARTIFACT_KIND] = 0  # LIVE
    names = list(cache.state_names)
    for key, state in non_live.items():
        if state not in names:
            names.append(state)
    if non_live:
        changed = np.flatnonzero(np.isin(keys, np.fromiter(non_live, np.int64, len(non_live))))
        codes[changed] = [names.index(non_live[k]) for k in keys[changed].tolist()]
    return CodedStrings(codes, names)


# --------------------------------------------------------------------------- SQL engine

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


def _depths(starts: Sequence[int], edges: Sequence[EdgeRow], upstream: bool) -> dict[int, int]:
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


def _node_details(engine: Engine, keys: list[int]) -> dict[int, tuple[str, str | None, str]]:
    """``node key -> (type, name, state)`` for artifacts and executions."""
    details: dict[int, tuple[str, str | None, str]] = {}
    a, e = t.artifact.c, t.execution.c
    with engine.connect() as connection:
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i:i + _CHUNK]
            for node, type_, name, state in connection.execute(
                    select(a.node, a.type, a.name, a.state).where(a.node.in_(chunk))):
                details[node] = (type_, name, state)
            for node, type_, state in connection.execute(
                    select(e.node, e.type, e.state).where(e.node.in_(chunk))):
                details[node] = (type_, None, state)
    return details


def lineage_from_sql(engine: Engine, start: Sequence[NodeId], direction: Direction = "up",
                     depth: int | None = None, types: Sequence[str] = ()) -> LineageGraph:
    """The same graph as :func:`lineage_from_cache`, computed with recursive SQL."""
    _check(direction, depth)
    starts = sorted({_key(s) for s in start})
    edges: set[EdgeRow] = set()
    depths: dict[int, int] = {}
    for upstream in _directions(direction):
        found = _edges_recursive(engine, starts, upstream)
        found_depths = _depths(starts, found, upstream)
        if depth is not None:
            found_depths = {k: d for k, d in found_depths.items() if d <= depth}
        edges.update(e for e in found if e[0] in found_depths and e[1] in found_depths)
        for key, d in found_depths.items():
            depths[key] = min(d, depths.get(key, d))
    details = _node_details(engine, sorted(depths))
    keep = [k for k in depths if k in details and (not types or details[k][0] in types or k in starts)]
    keys = np.asarray(keep, np.int64)
    keys = keys[node_order(keys)]
    kept = set(keep)
    edge_list = sorted((e for e in edges if e[0] in kept and e[1] in kept),
                       key=lambda e: (e[0] % 2, e[0], e[1] % 2, e[1], e[3]))
    node_columns = (keys, [details[k][0] for k in keys.tolist()], [details[k][1] for k in keys.tolist()],
                    [details[k][2] for k in keys.tolist()], np.asarray([depths[k] for k in keys.tolist()], np.int64))
    edge_columns = (np.asarray([e[0] for e in edge_list], np.int64), np.asarray([e[1] for e in edge_list], np.int64),
                    np.asarray([bool(e[2]) for e in edge_list], bool), [e[3] for e in edge_list])
    return LineageGraph([_node_id(k) for k in starts], direction, depth, node_columns, edge_columns)
