"""The lineage cache's index structures: node key -> dense index, and adjacency by walking direction.

Both are built from the cache's flat arrays (graph_cache) and grow with them without
re-sorting what they already hold, so a query right after a write costs what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Edges added since an adjacency was built that make it rebuild whole (see Adjacency).
REBUILD_AFTER = 4096


@dataclass(frozen=True)
class Adjacency:
    """Edges by the node they are walked from, in two sorted parts: the edges when it was
    built, and those added since (re-sorted per load, small). Rebuilt whole once the
    recent part outgrows :data:`REBUILD_AFTER` or 1/16 of the edges, so a bounded walk
    right after a write does not sort every edge."""

    base: "Runs"
    recent: "Runs"

    @classmethod
    def build(cls, origin: np.ndarray, target: np.ndarray) -> "Adjacency":
        rows = np.arange(len(origin), dtype=np.int64)
        return cls(Runs.of(origin, target, rows), Runs.of(origin[:0], target[:0], rows[:0]))

    def extended(self, origin: np.ndarray, target: np.ndarray, first_row: int) -> "Adjacency":
        """With the edges at rows ``first_row`` and after (``origin``, ``target``: every edge)."""
        recent = len(self.recent.rows) + len(origin) - first_row
        if recent > max(REBUILD_AFTER, len(origin) // 16):
            return self.build(origin, target)
        rows = np.concatenate([self.recent.rows, np.arange(first_row, len(origin), dtype=np.int64)])
        return Adjacency(self.base, Runs.of(origin[rows], target[rows], rows))

    def edges_from(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(edge rows, targets)`` of every edge walked from ``nodes``."""
        rows, targets = self.base.edges_from(nodes)
        if not len(self.recent.rows):
            return rows, targets
        recent_rows, recent_targets = self.recent.edges_from(nodes)
        return np.concatenate([rows, recent_rows]), np.concatenate([targets, recent_targets])


@dataclass(frozen=True)
class Runs:
    """Edges sorted by the node they are walked from (``origins``); a node's edges are one
    run, found by binary search, so nothing here is sized by the node count."""

    origins: np.ndarray
    rows: np.ndarray  # indices into the cache's edge arrays
    targets: np.ndarray  # dense node indices

    @classmethod
    def of(cls, origin: np.ndarray, target: np.ndarray, rows: np.ndarray) -> "Runs":
        order = np.argsort(origin, kind="stable")  # edges are appended in time order: nearly sorted
        return cls(origin[order], rows[order], target[order])

    def edges_from(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        begin = np.searchsorted(self.origins, nodes, "left")
        counts = np.searchsorted(self.origins, nodes, "right") - begin
        total = int(counts.sum())
        if total == 0:
            return self.rows[:0], self.targets[:0]
        # for each node its run begin..end, laid end to end without a Python loop
        slots = np.repeat(begin - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
        return self.rows[slots], self.targets[slots]


@dataclass(frozen=True)
class NodeIndex:
    """Node key -> dense index, without a dict of every node (~100 bytes a node).

    Nodes are loaded by id, artifacts and executions each in ascending order, so the keys
    of one kind are ascending in dense order: per kind, the keys (sorted) and their dense
    indices. Concatenated, the dense indices are in the order lineage graphs list nodes
    (graph_cache.node_order).
    """

    keys: tuple[np.ndarray, np.ndarray]  # per kind (artifact, execution): keys, ascending
    dense: tuple[np.ndarray, np.ndarray]  # aligned dense indices

    @classmethod
    def of(cls, keys: np.ndarray) -> "NodeIndex":
        dense = tuple(np.flatnonzero(keys % 2 == kind) for kind in (0, 1))
        return cls._sorted(tuple(keys[d] for d in dense), dense)

    @classmethod
    def _sorted(cls, keys: tuple, dense: tuple) -> "NodeIndex":
        out_keys, out_dense = [], []
        for kind_keys, kind_dense in zip(keys, dense):
            if len(kind_keys) > 1 and not (np.diff(kind_keys) > 0).all():  # never expected; stays correct
                order = np.argsort(kind_keys, kind="stable")
                kind_keys, kind_dense = kind_keys[order], kind_dense[order]
            out_keys.append(kind_keys)
            out_dense.append(kind_dense)
        return cls(tuple(out_keys), tuple(out_dense))

    def extended(self, new_keys: np.ndarray, first_dense: int) -> "NodeIndex":
        """This index plus ``new_keys`` at dense indices ``first_dense``, ``first_dense + 1``, ..."""
        new_dense = np.arange(first_dense, first_dense + len(new_keys), dtype=np.int64)
        keys, dense, ascending = [], [], True
        for kind in (0, 1):
            mine = new_keys % 2 == kind
            added, old = new_keys[mine], self.keys[kind]
            ascending &= bool((np.diff(added) > 0).all()) and (not len(old) or not len(added) or added[0] > old[-1])
            keys.append(np.concatenate([old, added]))
            dense.append(np.concatenate([self.dense[kind], new_dense[mine]]))
        return NodeIndex(tuple(keys), tuple(dense)) if ascending else self._sorted(tuple(keys), tuple(dense))

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Dense index per key; -1 for a key not held."""
        out = np.full(len(keys), -1, np.int64)
        for kind in (0, 1):
            mine = np.flatnonzero(keys % 2 == kind)
            if not len(mine) or not len(self.keys[kind]):
                continue
            position = np.searchsorted(self.keys[kind], keys[mine])
            position[position == len(self.keys[kind])] = 0
            found = self.keys[kind][position] == keys[mine]
            out[mine[found]] = self.dense[kind][position[found]]
        return out

    def order(self) -> np.ndarray:
        """Dense indices in node order: artifacts, then executions, each by id."""
        return np.concatenate(self.dense)
