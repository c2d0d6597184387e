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
Several processes may write the same database; each keeps its own cache, and a new
one starts from a file snapshot when there is a valid one (graph_snapshot). A changed
index identity (``reindex`` records MLMD's fingerprint anew) starts the cache over.

Bounded walks (up to 64 hops) go level by level through a sorted adjacency
(graph_arrays) and touch only what they reach, with the same answer as csgraph's
breadth-first search over the whole graph, which deeper and unbounded walks use.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mlstore.index import graph_snapshot
from mlstore.index import tables as t
from mlstore.index.graph_arrays import Adjacency, NodeIndex

log = logging.getLogger(__name__)

#: Every MLMD artifact state but LIVE.
NON_LIVE_STATES = ("UNKNOWN", "PENDING", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE")


#: What a refresh asks first (built once: SQLAlchemy then reuses its compiled form and
#: cache key): the newest ids and the index's identity.
_NEWEST = select(
    select(func.max(t.event.c.id)).scalar_subquery(),
    select(func.max(t.artifact.c.id)).scalar_subquery(),
    select(func.max(t.execution.c.id)).scalar_subquery(),
    *graph_snapshot.identity_columns(),
)
# IN (not !=) so the state index answers it without scanning every artifact.
_NON_LIVE = select(t.artifact.c.node, t.artifact.c.state).where(t.artifact.c.state.in_(NON_LIVE_STATES))


def node_order(keys: np.ndarray) -> np.ndarray:
    """The order lineage graphs list nodes in: artifacts first, then executions; by id."""
    return np.lexsort((keys, keys % 2))


def edge_order(src: np.ndarray, dst: np.ndarray, role_rank: np.ndarray) -> np.ndarray:
    """The order lineage graphs list edges in: by source, then target (artifacts first, by
    id), then role name (``role_rank``: each edge's role's position in sorted order)."""
    return np.lexsort((role_rank, dst, dst % 2, src, src % 2))


def _code(code_of: dict, values: list, value) -> int:
    """``value``'s code in the dictionary ``values`` (appended when new)."""
    code = code_of.get(value)
    if code is None:
        code = code_of[value] = len(values)
        values.append(value)
    return code


#: Event ids below the newest one that are missing (a transaction that committed later than
#: a newer one, or rolled back) are looked for again while they are at most this far below
#: the newest id seen when they were missed, and for at most :data:`HOLE_TTL_S` seconds.
_HOLE_WINDOW = 4096
HOLE_TTL_S = 600.0

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
    """Edges and node attributes of the whole index, refreshed incrementally.

    With ``snapshot`` (a file path, see :mod:`mlstore.index.graph_snapshot`) a new cache
    starts from the snapshot when it is intact and of this index, and keeps it current.
    """

    def __init__(self, engine: Engine, snapshot: Path | None = None,
                 rewrite_after: int = graph_snapshot.REWRITE_AFTER):
        self.engine = engine
        self.snapshot = snapshot
        self._rewrite_after = rewrite_after
        self._lock = threading.Lock()
        self._start(None)

    def _start(self, identity: str | None) -> None:
        """Empties the cache; ``identity`` is the index's (graph_snapshot.index_identity)."""
        self._identity = identity
        self._snapshot_event = 0  # the last event id in the snapshot file this cache matches
        self.started_from_snapshot = 0  # the snapshot's last event id when the cache started from one
        self._last_event = self._last_artifact = self._last_execution = 0
        self._holes: dict[int, float] = {}  # event id -> when first missed (see _HOLE_WINDOW)
        self._last_artifact_node = self._last_execution_node = None
        self.keys = np.empty(0, np.int64)  # node key per dense index
        self._nodes = NodeIndex.of(self.keys)
        self.type_codes = np.empty(0, np.int32)
        self.type_names: list[str] = []
        self.name_values: list[str | None] = [None]  # code 0: no name (most nodes)
        self.name_codes = np.empty(0, np.int32)
        self.state_names: list[str] = ["LIVE"]  # code 0 is LIVE
        self.state_codes = np.empty(0, np.int32)  # per node: state when loaded (executions never change)
        self.src = np.empty(0, np.int64)  # dense indices
        self.dst = np.empty(0, np.int64)
        self.is_output = np.empty(0, bool)
        self.role_codes = np.empty(0, np.int32)
        self.roles: list[str] = []
        self._index_codes()
        self._adjacencies: dict[bool, Adjacency] = {}  # by walking direction (upstream?)
        self._matrices: dict[bool, csr_matrix] = {}
        self._edge_order: np.ndarray | None = None
        self._node_order: np.ndarray | None = None
        self._seen = np.empty(0, bool)  # scratch for frontier walks, sized to the nodes; all False between walks

    def clear(self) -> None:
        """Forgets everything loaded (the next query starts over)."""
        with self._lock:
            self._start(None)

    def _index_codes(self) -> None:
        """Value -> code of each code dictionary (type names, names, states, roles)."""
        self._type_code, self._name_code, self._state_code, self._role_code = (
            {v: i for i, v in enumerate(values)}
            for values in (self.type_names, self.name_values, self.state_names, self.roles))

    # -- refresh -------------------------------------------------------------------------

    def refresh(self, start_keys: list[int] = ()) -> dict[int, str]:
        """Loads what was added since the last call; returns ``{node key: state}`` of
        artifacts that are not LIVE (read fresh every time).

        Ids are not commit order: a writer's transaction can commit after one that took
        higher ids. Missing event ids below the newest are looked for again on every
        refresh (see :data:`_HOLE_WINDOW`), and nodes are also loaded by key when an edge
        or one of ``start_keys`` needs one the id ranges passed over."""
        with self._lock, self.engine.connect() as connection:
            last_event, last_artifact, last_execution, fingerprint, recorded_ms = connection.execute(_NEWEST).one()
            last_event, identity = last_event or 0, graph_snapshot.index_identity(fingerprint, recorded_ms)
            if identity != self._identity or last_event < self._last_event:  # new, or rebuilt elsewhere
                self._start(identity)
                if self._persisted():
                    self._adopt_snapshot(connection, last_event)
            if (last_artifact or 0) > self._last_artifact or (last_execution or 0) > self._last_execution:
                self._load_nodes(connection)
            if last_event > self._last_event:
                self._load_edges(connection, last_event)
            if self._holes:
                self._fill_holes(connection)
            if len(start_keys):
                missing = np.asarray(start_keys, np.int64)
                missing = missing[self._nodes.lookup(missing) < 0]
                if len(missing):
                    self._load_keys(connection, missing)
            if self._persisted() and not self._holes and \
                    self._last_event - self._snapshot_event >= self._rewrite_after:
                self._write_snapshot()
            return dict(connection.execute(_NON_LIVE).all())

    def _load_nodes(self, connection) -> None:
        a, e = t.artifact.c, t.execution.c
        artifacts = connection.execute(
            select(a.id, a.node, a.type, a.name, a.state).where(a.id > self._last_artifact).order_by(a.id)).all()
        executions = connection.execute(
            select(e.id, e.node, e.type, e.state).where(e.id > self._last_execution).order_by(e.id)).all()
        if artifacts:
            self._last_artifact, self._last_artifact_node = artifacts[-1].id, artifacts[-1].node
        if executions:
            self._last_execution, self._last_execution_node = executions[-1].id, executions[-1].node
        added = [(r.node, r.type, r.name, r.state) for r in artifacts]
        added += [(r.node, r.type, None, r.state) for r in executions]
        if added:
            self._append_nodes(added)

    def _append_nodes(self, added: list[tuple]) -> None:
        """Appends nodes given as ``(key, type, name, state)``, artifacts by id, then executions by id."""
        new_keys = np.fromiter((k for k, *_ in added), np.int64, len(added))
        codes = np.empty((len(added), 3), np.int32)
        for i, (_, type_name, name, state) in enumerate(added):
            codes[i] = (_code(self._type_code, self.type_names, type_name),
                        _code(self._name_code, self.name_values, name),
                        _code(self._state_code, self.state_names, state))
        self._nodes = self._nodes.extended(new_keys, len(self.keys))
        self.keys = np.concatenate([self.keys, new_keys])
        self.type_codes = np.concatenate([self.type_codes, codes[:, 0]])
        self.name_codes = np.concatenate([self.name_codes, codes[:, 1]])
        self.state_codes = np.concatenate([self.state_codes, codes[:, 2]])
        self._matrices.clear()  # sized by the node count
        self._node_order = None

    def _load_keys(self, connection, keys: np.ndarray) -> None:
        """Loads the nodes with these keys that the index has (whatever their ids)."""
        a, e = t.artifact.c, t.execution.c
        wanted = keys.tolist()
        added = [(r.node, r.type, r.name, r.state) for r in connection.execute(
            select(a.node, a.type, a.name, a.state).where(a.node.in_(wanted)).order_by(a.id))]
        added += [(r.node, r.type, None, r.state) for r in connection.execute(
            select(e.node, e.type, e.state).where(e.node.in_(wanted)).order_by(e.id))]
        if added:
            self._append_nodes(added)

    def _edge_rows(self, connection, condition) -> list:
        """The event rows (id, src, dst, is_output, role) matching ``condition``, by id."""
        ev = t.event.c
        return connection.execute(select(ev.id, ev.src, ev.dst, ev.is_output, ev.role)
                                  .where(condition).order_by(ev.id)).all()

    def _present_ids(self, connection, condition, loaded: list[int]) -> set[int]:
        """Ids of every event matching ``condition`` (``loaded``: those :meth:`_edge_rows` returned)."""
        return set(loaded)

    def _add_rows(self, connection, rows) -> None:
        self._append_edges(rows, connection)

    def _load_edges(self, connection, newest: int = 0) -> None:
        ev = t.event.c
        since = self._last_event
        rows = self._edge_rows(connection, ev.id > since)
        newest = max(newest, rows[-1].id if rows else 0, since)
        low = max(since, newest - _HOLE_WINDOW)
        present = self._present_ids(connection, ev.id > low, [r.id for r in rows if r.id > low])
        now = time.monotonic()
        for missing in set(range(low + 1, newest + 1)).difference(present):
            self._holes.setdefault(missing, now)
        if rows:
            self._add_rows(connection, rows)
        self._last_event = newest

    def _fill_holes(self, connection) -> None:
        """Loads events that committed after newer ones; forgets holes older than the TTL."""
        ev = t.event.c
        ids = sorted(self._holes)
        rows = self._edge_rows(connection, ev.id.in_(ids))
        for found in self._present_ids(connection, ev.id.in_(ids), [r.id for r in rows]):
            del self._holes[found]
        expired = time.monotonic() - HOLE_TTL_S
        for hole in [h for h, since in self._holes.items() if since < expired]:
            del self._holes[hole]
        if rows:
            self._add_rows(connection, rows)

    def _append_edges(self, rows, connection=None) -> None:
        """Appends event ``rows`` (id, src, dst, is_output, role; by id). Nodes written
        after the last node load are loaded through ``connection`` (None: KeyError)."""
        ends = np.fromiter((k for r in rows for k in (r.src, r.dst)), np.int64, 2 * len(rows))
        dense = self._nodes.lookup(ends)
        if (dense < 0).any():
            if connection is None:  # the caller loaded the nodes first
                raise KeyError(int(ends[int(np.flatnonzero(dense < 0)[0])]))
            self._load_nodes(connection)  # an edge to a node written after our node load
            dense = self._nodes.lookup(ends)
            if (dense < 0).any():  # indexed after a node with a higher id
                self._load_keys(connection, np.unique(ends[dense < 0]))
                dense = self._nodes.lookup(ends)
        first = len(self.src)
        self.src = np.concatenate([self.src, dense[0::2]])
        self.dst = np.concatenate([self.dst, dense[1::2]])
        self.is_output = np.concatenate([self.is_output, np.fromiter((r.is_output for r in rows), bool, len(rows))])
        codes = [_code(self._role_code, self.roles, r.role) for r in rows]
        self.role_codes = np.concatenate([self.role_codes, np.asarray(codes, np.int32)])
        self._adjacencies = {upstream: adjacency.extended(*self._walked(upstream), first)
                             for upstream, adjacency in self._adjacencies.items()}
        self._matrices.clear()
        self._edge_order = None

    # -- snapshot ------------------------------------------------------------------------

    _ARRAYS = graph_snapshot.NODE_ARRAYS + graph_snapshot.EDGE_ARRAYS
    _LISTS = graph_snapshot.LISTS

    def _persisted(self) -> bool:
        """Snapshots need an index that names its MLMD (recorded at the first open after a write)."""
        return self.snapshot is not None and bool(self._identity)

    def _stamp(self) -> graph_snapshot.Stamp:
        last_edge = None
        if len(self.src):
            last_edge = (int(self.keys[self.src[-1]]), int(self.keys[self.dst[-1]]), bool(self.is_output[-1]),
                         self.roles[self.role_codes[-1]])
        return graph_snapshot.Stamp(self._identity or "", self._last_event, last_edge, self._last_artifact,
                                    self._last_artifact_node, self._last_execution, self._last_execution_node)

    def _write_snapshot(self) -> None:
        self._order_all_edges()  # kept too: sorting every edge is most of a new process's first big query
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        snapshot = graph_snapshot.Snapshot(self._stamp(), {**arrays, "edge_order": self._edge_order},
                                           {name: getattr(self, name) for name in self._LISTS})
        if graph_snapshot.save(self.snapshot, snapshot):
            self._snapshot_event = self._last_event

    def _adopt_snapshot(self, connection, last_event: int) -> None:
        """Takes the snapshot's state if it is intact and of this index (else stays empty)."""
        snapshot = graph_snapshot.load(self.snapshot)
        if snapshot is None or not graph_snapshot.matches_index(connection, snapshot.stamp, self._identity,
                                                                last_event):
            return
        if not graph_snapshot.fits_together(snapshot.arrays, snapshot.lists):
            log.warning("lineage cache snapshot %s does not hold together; rebuilding it", self.snapshot)
            return
        for name in self._ARRAYS:
            setattr(self, name, snapshot.arrays[name])
        for name in self._LISTS:
            setattr(self, name, snapshot.lists[name])
        self._edge_order = snapshot.arrays["edge_order"]
        stamp = snapshot.stamp
        self._last_event = self._snapshot_event = self.started_from_snapshot = stamp.last_event
        self._last_artifact, self._last_artifact_node = stamp.last_artifact, stamp.last_artifact_node
        self._last_execution, self._last_execution_node = stamp.last_execution, stamp.last_execution_node
        self._nodes = NodeIndex.of(self.keys)
        self._index_codes()

    # -- order ---------------------------------------------------------------------------

    def _order_all_edges(self) -> None:
        if self._edge_order is None:
            self._edge_order = edge_order(self.keys[self.src], self.keys[self.dst],
                                          self.role_rank()[self.role_codes])

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
                self._node_order = self._nodes.order()
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
            self._order_all_edges()
            member = np.zeros(len(self.src), bool)
            member[rows] = True
            return self._edge_order[member[self._edge_order]]

    # -- traversal -----------------------------------------------------------------------

    def _walked(self, upstream: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every edge's (origin, target) in walking direction: upstream walks dst → src."""
        return (self.dst, self.src) if upstream else (self.src, self.dst)

    def _adjacency(self, upstream: bool) -> "Adjacency":
        if upstream not in self._adjacencies:
            self._adjacencies[upstream] = Adjacency.build(*self._walked(upstream))
        return self._adjacencies[upstream]

    def _matrix(self, upstream: bool) -> csr_matrix:
        """The adjacency as a sparse matrix, for whole-graph walks in C."""
        if upstream not in self._matrices:
            origin, target = self._walked(upstream)
            n = len(self.keys)
            self._matrices[upstream] = csr_matrix((np.ones(len(origin), np.int8), (origin, target)), shape=(n, n))
        return self._matrices[upstream]

    def dense(self, node_keys: list[int]) -> np.ndarray:
        """The dense indices of ``node_keys``, sorted and without duplicates.

        Raises:
            KeyError: a key the cache does not hold.
        """
        dense = self._nodes.lookup(np.asarray(node_keys, np.int64))
        if (dense < 0).any():
            raise KeyError(node_keys[int(np.flatnonzero(dense < 0)[0])])
        return np.unique(dense)

    def walk(self, start_keys: list[int], upstream: bool, depth: int | None) -> Walk:
        """Nodes within ``depth`` hops of the starts (None: unlimited) and the edges among them.

        Nodes come in dense-index order, edge rows ascending. A walk of at most
        :data:`_FRONTIER_LEVELS` hops touches only what it reaches (and the edges of the
        nodes it reaches); a deeper one runs breadth-first over the whole graph in C.
        """
        with self._lock:
            starts = self.dense(start_keys)
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
                walked, reached = adjacency.edges_from(frontier)
                rows.append(walked)
                frontier = np.unique(reached[~seen[reached]])
                if not len(frontier):
                    break
                seen[frontier] = True
                levels.append(frontier)
            # the last level is not expanded: of its edges, those that land inside
            walked, reached = adjacency.edges_from(frontier)
            rows.append(walked[seen[reached]])
        finally:
            for level in levels:
                seen[level] = False
        nodes = np.concatenate(levels)
        depths = np.repeat(np.arange(len(levels), dtype=np.int64), [len(level) for level in levels])
        order = np.argsort(nodes)
        return Walk(nodes[order], depths[order], np.sort(np.concatenate(rows)))
