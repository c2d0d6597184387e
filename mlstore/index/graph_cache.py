"""An in-memory adjacency cache of the lineage graph, for traversals in milliseconds.

Why: a year of daily warm starts is a chain of thousands of hops, and a full upstream
graph after ten thousand days has ~60,000 nodes. Walking that with recursive SQL costs
hundreds of milliseconds on SQLite (and far more through MLMD's 100-hop subgraph calls);
a breadth-first search over a compressed sparse row matrix in C (scipy.sparse.csgraph)
costs a few.

Freshness without invalidation messages: lineage edges are MLMD events, which are
immutable and only appended, so each query loads the edges with an id above the last
one seen (one indexed ``max(id)`` probe when nothing changed). Node types and names never
change either. Artifact states can (garbage collection marks DELETED), so states of
non-LIVE artifacts are read fresh on every query through an index on ``state``.
Several processes may write the same database; each keeps its own cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mlstore.index import tables as t

#: Every MLMD artifact state but LIVE.
NON_LIVE_STATES = ("UNKNOWN", "PENDING", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE")


def node_order(keys: np.ndarray) -> np.ndarray:
    """The order lineage graphs list nodes in: artifacts first, then executions; by id."""
    return np.lexsort((keys, keys % 2))


def edge_order(src: np.ndarray, dst: np.ndarray, role_rank: np.ndarray) -> np.ndarray:
    """The order lineage graphs list edges in: by source, then target (artifacts first, by
    id), then role name (``role_rank``: each edge's role's position in sorted order)."""
    return np.lexsort((role_rank, dst, dst % 2, src, src % 2))


#: Walks of at most this many hops go level by level over what they reach; deeper ones
#: (a full lineage is thousands of hops) walk the whole graph in C.
_FRONTIER_LEVELS = 64

#: A subset at least this fraction of the whole is put in order by filtering the cache's
#: precomputed order (linear) instead of sorting the subset.
_FILTER_FRACTION = 1 / 16


@dataclass(frozen=True)
class Walk:
    """Result of one traversal: reached node keys with depths, and the edges among them."""

    nodes: np.ndarray  # dense node indices (see GraphCache.keys)
    depths: np.ndarray  # hops from the nearest start, aligned with ``nodes``
    edge_rows: np.ndarray  # indices into the cache's edge arrays


class GraphCache:
    """Edges and node attributes of the whole index, refreshed incrementally."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._last_event = self._last_artifact = self._last_execution = 0
        self.index_of: dict[int, int] = {}  # node key -> dense index
        self.keys = np.empty(0, np.int64)
        self.type_codes = np.empty(0, np.int32)
        self._type_code_list: list[int] = []
        self.type_names: list[str] = []
        self._type_code: dict[str, int] = {}
        self.name_values: list[str | None] = [None]  # code 0: no name (most nodes)
        self._name_code: dict[str | None, int] = {None: 0}
        self._name_code_list: list[int] = []
        self.name_codes = np.empty(0, np.int32)
        self.state_names: list[str] = ["LIVE"]  # code 0 is LIVE
        self._state_code_list: list[int] = []  # per node: state when loaded (executions never change)
        self.state_codes = np.empty(0, np.int32)
        self.src = np.empty(0, np.int64)  # dense indices
        self.dst = np.empty(0, np.int64)
        self.is_output = np.empty(0, bool)
        self.role_codes = np.empty(0, np.int32)
        self.roles: list[str] = []
        self._role_code: dict[str, int] = {}
        self._adjacencies: dict[bool, _Adjacency] = {}  # by walking direction (upstream?)
        self._matrices: dict[bool, csr_matrix] = {}
        self._seen = np.empty(0, bool)  # scratch for frontier walks; all False between walks
        self._node_order: np.ndarray | None = None
        self._edge_order: np.ndarray | None = None

    # -- refresh -------------------------------------------------------------------------

    def refresh(self) -> dict[int, str]:
        """Loads what was added since the last call; returns ``{node key: state}`` of
        artifacts that are not LIVE (read fresh every time)."""
        with self._lock, self.engine.connect() as connection:
            last_event, last_artifact, last_execution = connection.execute(select(
                select(func.max(t.event.c.id)).scalar_subquery(),
                select(func.max(t.artifact.c.id)).scalar_subquery(),
                select(func.max(t.execution.c.id)).scalar_subquery(),
            )).one()
            if (last_event or 0) < self._last_event:  # the index was rebuilt elsewhere: start over
                self.__init__(self.engine)
            if (last_artifact or 0) > self._last_artifact or (last_execution or 0) > self._last_execution:
                self._load_nodes(connection)
            if (last_event or 0) > self._last_event:
                self._load_edges(connection)
            a = t.artifact.c
            # IN (not !=) so the state index answers it without scanning every artifact.
            return dict(connection.execute(select(a.node, a.state).where(a.state.in_(NON_LIVE_STATES))).all())

    def _load_nodes(self, connection) -> None:
        a, e = t.artifact.c, t.execution.c
        rows = connection.execute(
            select(a.id, a.node, a.type, a.name, a.state).where(a.id > self._last_artifact).order_by(a.id)).all()
        for row in rows:
            self._add_node(row.node, row.type, row.name, row.state)
            self._last_artifact = row.id
        rows = connection.execute(
            select(e.id, e.node, e.type, e.state).where(e.id > self._last_execution).order_by(e.id)).all()
        for row in rows:
            self._add_node(row.node, row.type, None, row.state)
            self._last_execution = row.id
        self.keys = np.fromiter(self.index_of.keys(), np.int64, len(self.index_of))
        self.type_codes = np.asarray(self._type_code_list, np.int32)
        self.name_codes = np.asarray(self._name_code_list, np.int32)
        self.state_codes = np.asarray(self._state_code_list, np.int32)
        self._adjacencies.clear()
        self._matrices.clear()
        self._node_order = self._edge_order = None

    def _add_node(self, key: int, type_name: str, name: str | None, state: str) -> None:
        if key in self.index_of:
            return
        code = self._type_code.setdefault(type_name, len(self._type_code))
        if code == len(self.type_names):
            self.type_names.append(type_name)
        self.index_of[key] = len(self.index_of)
        self._type_code_list.append(code)
        name_code = self._name_code.setdefault(name, len(self._name_code))
        if name_code == len(self.name_values):
            self.name_values.append(name)
        self._name_code_list.append(name_code)
        if state not in self.state_names:
            self.state_names.append(state)
        self._state_code_list.append(self.state_names.index(state))

    def _load_edges(self, connection) -> None:
        ev = t.event.c
        rows = connection.execute(select(ev.id, ev.src, ev.dst, ev.is_output, ev.role)
                                  .where(ev.id > self._last_event).order_by(ev.id)).all()
        if not rows:
            return
        if any(r.src not in self.index_of or r.dst not in self.index_of for r in rows):
            self._load_nodes(connection)  # an edge to a node written after our node load
        index = self.index_of
        self.src = np.concatenate([self.src, np.fromiter((index[r.src] for r in rows), np.int64, len(rows))])
        self.dst = np.concatenate([self.dst, np.fromiter((index[r.dst] for r in rows), np.int64, len(rows))])
        self.is_output = np.concatenate([self.is_output, np.fromiter((r.is_output for r in rows), bool, len(rows))])
        codes = [self._role_code.setdefault(r.role, len(self._role_code)) for r in rows]
        self.roles = list(self._role_code)  # code i is roles[i]
        self.role_codes = np.concatenate([self.role_codes, np.asarray(codes, np.int32)])
        self._last_event = rows[-1].id
        self._adjacencies.clear()
        self._matrices.clear()
        self._edge_order = None

    # -- order ---------------------------------------------------------------------------

    def role_rank(self) -> np.ndarray:
        """Per role code: the role's position among the role names in sorted order."""
        rank = np.empty(len(self.roles), np.int64)
        rank[np.argsort(np.asarray(self.roles, dtype=object))] = np.arange(len(self.roles))
        return rank

    def sort_nodes(self, nodes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``nodes`` (dense indices, no duplicates) in :func:`node_order`, with ``values``
        (aligned with ``nodes``) in the same order."""
        with self._lock:
            if len(nodes) < _FILTER_FRACTION * len(self.keys):
                order = node_order(self.keys[nodes])
                return nodes[order], values[order]
            if self._node_order is None:
                self._node_order = node_order(self.keys)
            member = np.zeros(len(self.keys), bool)
            member[nodes] = True
            value_of = np.empty(len(self.keys), values.dtype)
            value_of[nodes] = values
            nodes = self._node_order[member[self._node_order]]
            return nodes, value_of[nodes]

    def sort_edges(self, rows: np.ndarray) -> np.ndarray:
        """Edge ``rows`` (no duplicates) in :func:`edge_order`."""
        with self._lock:
            if len(rows) < _FILTER_FRACTION * len(self.src):
                rank = self.role_rank()
                return rows[edge_order(self.keys[self.src[rows]], self.keys[self.dst[rows]],
                                       rank[self.role_codes[rows]])]
            if self._edge_order is None:
                self._edge_order = edge_order(self.keys[self.src], self.keys[self.dst],
                                              self.role_rank()[self.role_codes])
            member = np.zeros(len(self.src), bool)
            member[rows] = True
            return self._edge_order[member[self._edge_order]]

    # -- traversal -----------------------------------------------------------------------

    def _adjacency(self, upstream: bool) -> "_Adjacency":
        """Edges grouped by the node they are walked from: upstream walks dst → src."""
        if upstream not in self._adjacencies:
            origin, target = (self.dst, self.src) if upstream else (self.src, self.dst)
            self._adjacencies[upstream] = _Adjacency.build(origin, target, len(self.keys))
        return self._adjacencies[upstream]

    def _matrix(self, upstream: bool) -> csr_matrix:
        """The same adjacency as a sparse matrix, for whole-graph walks in C."""
        if upstream not in self._matrices:
            adjacency, n = self._adjacency(upstream), len(self.keys)
            data = np.ones(len(adjacency.targets), np.int8)
            self._matrices[upstream] = csr_matrix((data, adjacency.targets, adjacency.indptr), shape=(n, n))
        return self._matrices[upstream]

    def walk(self, start_keys: list[int], upstream: bool, depth: int | None) -> Walk:
        """Nodes within ``depth`` hops of the starts (None: unlimited) and the edges among them.

        Nodes come in dense-index order, edge rows ascending. A walk of at most
        :data:`_FRONTIER_LEVELS` hops touches only what it reaches (and the edges of the
        nodes it reaches); a deeper one runs breadth-first over the whole graph in C.
        """
        with self._lock:
            starts = np.unique(np.fromiter((self.index_of[k] for k in start_keys), np.int64, len(start_keys)))
            if depth is None or depth > _FRONTIER_LEVELS:
                return self._walk_whole(starts, upstream, depth)
            return self._walk_frontier(starts, upstream, depth)

    def _walk_whole(self, starts: np.ndarray, upstream: bool, depth: int | None) -> Walk:
        distances = dijkstra(self._matrix(upstream), directed=True, indices=starts, unweighted=True,
                             min_only=True, limit=np.inf if depth is None else depth + 0.5)
        reached = np.flatnonzero(np.isfinite(distances))
        inside = np.zeros(len(self.keys), bool)
        inside[reached] = True
        edge_rows = np.flatnonzero(inside[self.src] & inside[self.dst])
        return Walk(reached, distances[reached].astype(np.int64), edge_rows)

    def _walk_frontier(self, starts: np.ndarray, upstream: bool, depth: int) -> Walk:
        """Breadth-first, one level at a time; costs O(nodes reached + their edges)."""
        adjacency = self._adjacency(upstream)
        if len(self._seen) != len(self.keys):
            self._seen = np.zeros(len(self.keys), bool)  # once per cache growth, not per walk
        seen = self._seen
        levels, rows = [starts], []
        seen[starts] = True
        try:
            frontier = starts
            for _ in range(depth):
                slots = adjacency.slots(frontier)
                rows.append(adjacency.rows[slots])
                reached = adjacency.targets[slots]
                frontier = np.unique(reached[~seen[reached]])
                if not len(frontier):
                    break
                seen[frontier] = True
                levels.append(frontier)
            # the last level is not expanded: of its edges, those that land inside
            slots = adjacency.slots(frontier)
            rows.append(adjacency.rows[slots][seen[adjacency.targets[slots]]])
        finally:
            for level in levels:
                seen[level] = False
        nodes = np.concatenate(levels)
        depths = np.repeat(np.arange(len(levels), dtype=np.int64), [len(level) for level in levels])
        order = np.argsort(nodes)
        return Walk(nodes[order], depths[order], np.sort(np.concatenate(rows)))


@dataclass(frozen=True)
class _Adjacency:
    """Compressed sparse rows: node ``i``'s edges are ``rows[indptr[i]:indptr[i + 1]]``
    (indices into the cache's edge arrays), leading to ``targets`` (dense node indices)."""

    indptr: np.ndarray
    rows: np.ndarray
    targets: np.ndarray

    @classmethod
    def build(cls, origin: np.ndarray, target: np.ndarray, node_count: int) -> "_Adjacency":
        rows = np.argsort(origin, kind="stable")  # edges are appended in time order: nearly sorted
        indptr = np.zeros(node_count + 1, np.int64)
        np.cumsum(np.bincount(origin, minlength=node_count), out=indptr[1:])
        return cls(indptr, rows, target[rows])

    def slots(self, nodes: np.ndarray) -> np.ndarray:
        """Positions in ``rows``/``targets`` of every edge walked from ``nodes``."""
        begin, end = self.indptr[nodes], self.indptr[nodes + 1]
        counts = end - begin
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, np.int64)
        # for each node its run begin..end, laid end to end without a Python loop
        shift = np.repeat(begin - (np.cumsum(counts) - counts), counts)
        return shift + np.arange(total, dtype=np.int64)
