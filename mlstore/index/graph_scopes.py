"""Lineage caches per group of connected pipelines, bounded by the edges they hold.

Why: the whole-graph cache (graph_cache) holds every edge of the store in every
process, ~75 bytes of arrays an edge (:data:`BYTES_PER_EDGE`; ~130 bytes of RSS): 1.3 GB
per replica at 100 pipelines x 10,000 days (18 million edges). A platform store is
many pipelines whose lineage rarely crosses, so a query needs only the pipelines its
start nodes belong to.

While the index holds at most ``max_edges`` events (``$MLSTORE_LINEAGE_CACHE_EDGES``,
default :data:`DEFAULT_MAX_EDGES`), the whole-graph cache answers (and keeps its
snapshot). Beyond that, a query loads a :class:`ScopedGraphCache` of the pipelines of
its start nodes: the events of their executions and the nodes those touch, read
through the execution's ``(pipeline, type)`` index, so loading costs what the
pipelines hold, not what the store holds. Scopes are kept least-recently-used first
and evicted while they hold more than ``max_edges`` edges together (the one in use
always stays), so a replica holds at most about ``max_edges * BYTES_PER_EDGE`` bytes
of lineage (plus one scope larger than the bound, if a single group is).

Never a wrong answer across pipelines: a scope is closed under lineage. Upstream, an
input artifact of another pipeline (a shared module) is seen when the scope loads it;
downstream, the executions of other pipelines that read the scope's reached artifacts
are looked up after the walk (one indexed query per 2,000 artifacts reached). Either
way the scope grows to include those pipelines and the query runs again. A start node
or a reached node without a pipeline falls back to the whole-graph cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from mlstore.index import tables as t
from mlstore.index.graph_cache import GraphCache

#: Edges the caches of one process hold together, unless ``$MLSTORE_LINEAGE_CACHE_EDGES`` says otherwise.
DEFAULT_MAX_EDGES = 2_000_000
MAX_EDGES_ENV = "MLSTORE_LINEAGE_CACHE_EDGES"

#: Bytes of numpy arrays per edge of a daily pipeline's cache (~0.33 nodes per edge),
#: measured by benchmarks/bench_scale.py: 60-74; a process's RSS grows ~130 bytes an edge.
BYTES_PER_EDGE = 75

_CHUNK = 2000


def max_edges_from_env() -> int:
    value = os.environ.get(MAX_EDGES_ENV, "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else DEFAULT_MAX_EDGES


class ScopeGrows(Exception):
    """Lineage leaves the scope: into ``pipelines`` (None: into nodes without a pipeline)."""

    def __init__(self, pipelines: frozenset[str] | None):
        super().__init__(pipelines)
        self.pipelines = pipelines


class ScopedGraphCache(GraphCache):
    """A :class:`GraphCache` of the executions of some pipelines, their events and the nodes
    those touch. Refreshes read only new events (id above the last seen) of these pipelines.

    Raises :class:`ScopeGrows` from :meth:`refresh` when an event reads an artifact of
    another pipeline (or of none).
    """

    def __init__(self, engine: Engine, pipelines: frozenset[str]):
        self.pipelines = pipelines
        super().__init__(engine, None)

    def _load_nodes(self, connection) -> None:
        """Nodes come with the scope's events (see :meth:`_load_edges`)."""

    def _edge_rows(self, connection, condition) -> list:
        ev, e = t.event.c, t.execution.c
        return connection.execute(
            select(ev.id, ev.src, ev.dst, ev.is_output, ev.role, ev.artifact_id, ev.execution_id)
            .join(t.execution, e.id == ev.execution_id)
            .where(e.pipeline.in_(sorted(self.pipelines)), condition).order_by(ev.id)).all()

    def _present_ids(self, connection, condition, loaded: list[int]) -> set[int]:
        return set(connection.scalars(select(t.event.c.id).where(condition)).all())  # of every pipeline

    def _add_rows(self, connection, rows) -> None:
        self._add_nodes(connection, sorted({r.artifact_id for r in rows}), sorted({r.execution_id for r in rows}))
        self._append_edges(rows)

    def _add_nodes(self, connection, artifact_ids: list[int], execution_ids: list[int]) -> None:
        a, e = t.artifact.c, t.execution.c
        held = self._nodes.lookup(np.asarray([t.node_key(t.ARTIFACT_KIND, i) for i in artifact_ids] +
                                             [t.node_key(t.EXECUTION_KIND, i) for i in execution_ids], np.int64))
        new_artifacts = [i for i, h in zip(artifact_ids, held[:len(artifact_ids)]) if h < 0]
        new_executions = [i for i, h in zip(execution_ids, held[len(artifact_ids):]) if h < 0]
        added, foreign = [], set()
        for i in range(0, len(new_artifacts), _CHUNK):
            for r in connection.execute(select(a.node, a.type, a.name, a.state, a.pipeline)
                                        .where(a.id.in_(new_artifacts[i:i + _CHUNK])).order_by(a.id)):
                if r.pipeline not in self.pipelines:
                    foreign.add(r.pipeline)
                added.append((r.node, r.type, r.name, r.state))
        if foreign:
            raise ScopeGrows(None if None in foreign else frozenset(foreign))
        for i in range(0, len(new_executions), _CHUNK):
            added += [(r.node, r.type, None, r.state) for r in connection.execute(
                select(e.node, e.type, e.state).where(e.id.in_(new_executions[i:i + _CHUNK])).order_by(e.id))]
        if added:
            self._append_nodes(added)

    def walk(self, start_keys: list[int], upstream: bool, depth: int | None):
        """As :meth:`GraphCache.walk`; a downstream walk raises :class:`ScopeGrows` when
        executions of other pipelines read what it reached."""
        found = super().walk(start_keys, upstream, depth)
        if not upstream:
            readers = self.downstream_readers(self.keys[found.nodes])
            if readers:
                raise ScopeGrows(None if None in readers else readers)
        return found

    def downstream_readers(self, artifact_keys: np.ndarray) -> frozenset:
        """Pipelines outside the scope whose executions read these artifacts (None among
        them: an execution without a pipeline); empty when lineage stays inside."""
        ev, e = t.event.c, t.execution.c
        ids = sorted({int(k) // 2 for k in artifact_keys.tolist() if k % 2 == t.ARTIFACT_KIND})
        found: set = set()
        with self.engine.connect() as connection:
            for i in range(0, len(ids), _CHUNK):
                found.update(connection.scalars(
                    select(e.pipeline).distinct().join(t.event, e.id == ev.execution_id)
                    .where(ev.artifact_id.in_(ids[i:i + _CHUNK]), ev.is_output.is_(False))).all())
        return frozenset(found - self.pipelines)


class ScopedCaches:
    """The scoped caches of one store, least recently used first, bounded by ``max_edges``."""

    def __init__(self, engine: Engine, max_edges: int | None = None):
        self.engine = engine
        self.max_edges = max_edges or max_edges_from_env()
        self._lock = threading.Lock()
        self._caches: OrderedDict[frozenset[str], ScopedGraphCache] = OrderedDict()

    def store_edges(self) -> int:
        """The index's newest event id: its edge count (events are only appended)."""
        with self.engine.connect() as connection:
            return connection.scalar(select(t.event.c.id).order_by(t.event.c.id.desc()).limit(1)) or 0

    def held_edges(self) -> int:
        with self._lock:
            return sum(len(c.src) for c in self._caches.values())

    def scopes(self) -> list[frozenset[str]]:
        """The scopes held, least recently used first."""
        with self._lock:
            return list(self._caches)

    def pipelines_of(self, keys: Sequence[int]) -> frozenset | None:
        """The pipelines of these node keys (None: one of them has none)."""
        a, e = t.artifact.c, t.execution.c
        artifacts = [k // 2 for k in keys if k % 2 == t.ARTIFACT_KIND]
        executions = [k // 2 for k in keys if k % 2 == t.EXECUTION_KIND]
        found: set = set()
        with self.engine.connect() as connection:
            if artifacts:
                found.update(connection.scalars(select(a.pipeline).where(a.id.in_(artifacts))).all())
            if executions:
                found.update(connection.scalars(select(e.pipeline).where(e.id.in_(executions))).all())
        return None if None in found else frozenset(found)

    def cache_for(self, pipelines: frozenset[str]) -> ScopedGraphCache:
        """The cache of the held scope covering ``pipelines``, or a new one (scopes it
        overlaps are merged into it); the least recently used are evicted beyond the bound."""
        with self._lock:
            for scope, cache in self._caches.items():
                if pipelines <= scope:
                    self._caches.move_to_end(scope)
                    return cache
            merged = set(pipelines)
            for scope in [s for s in self._caches if s & pipelines]:
                merged |= scope
                del self._caches[scope]
            scope = frozenset(merged)
            cache = self._caches[scope] = ScopedGraphCache(self.engine, scope)
            return cache

    def evict(self) -> None:
        """Drops least recently used scopes while they hold more than ``max_edges`` edges
        (the most recent one always stays)."""
        with self._lock:
            while len(self._caches) > 1 and sum(len(c.src) for c in self._caches.values()) > self.max_edges:
                self._caches.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._caches.clear()
