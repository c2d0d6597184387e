"""LineageGraph <-> ``LineageColumns`` (packed numeric columns, see types.proto).

Both directions work on the graph's raw columns (:meth:`LineageGraph.columns`): node
keys are ``2*id + kind`` int64 arrays (:func:`mlstore.index.tables.node_key`), so ids
and kinds are two vectorised operations, and each column reaches protobuf as one list
(copied in C). Types, states and roles travel as small dictionaries plus int32 codes.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from mlstore import errors
from mlstore.index.tables import ARTIFACT_KIND, EXECUTION_KIND
from mlstore.lineage import LineageGraph
from mlstore.types import NodeId
from mlstore.v1 import types_pb2 as pb


def graph_to_columns(graph: LineageGraph) -> tuple[list[str], pb.LineageColumns]:
    """The start ids and the LineageColumns of a whole graph."""
    return [str(s) for s in graph.start], _columns(graph, slice(None), slice(None))


def pages_of(graph: LineageGraph, size: int) -> Iterator[pb.LineageColumns]:
    """The graph as LineageColumns pages of at most ``size`` nodes and ``size`` edges."""
    for i in range(max(1, -(-max(graph.node_count, graph.edge_count) // size))):
        yield _columns(graph, slice(i * size, (i + 1) * size), slice(i * size, (i + 1) * size))


def _codes(values: Sequence[str]) -> tuple[list[int], list[str]]:
    """Dictionary encoding: (codes, names) with ``names[codes[i]] == values[i]``."""
    names = list(dict.fromkeys(values))  # first-seen order; a handful of distinct names
    index = {name: code for code, name in enumerate(names)}
    return list(map(index.__getitem__, values)), names


def _columns(graph: LineageGraph, nodes: slice, edges: slice) -> pb.LineageColumns:
    (keys, types, names, states, depths), (src, dst, is_output, roles) = graph.columns()
    keys, src, dst, is_output = keys[nodes], src[edges], dst[edges], is_output[edges]
    # An OUTPUT edge runs execution -> artifact, an INPUT edge artifact -> execution.
    artifact_keys, execution_keys = np.where(is_output, dst, src), np.where(is_output, src, dst)
    if np.any(artifact_keys & 1 != ARTIFACT_KIND) or np.any(execution_keys & 1 == ARTIFACT_KIND):
        raise errors.IntegrityError("a lineage edge does not connect an artifact and an execution")
    type_codes, type_names = _codes(types[nodes])
    state_codes, state_names = _codes(states[nodes])
    role_codes, role_names = _codes(roles[edges])
    return pb.LineageColumns(
        node_ids=(keys >> 1).tolist(), node_kinds=(keys & 1).tolist(),
        node_type_codes=type_codes, node_type_names=type_names,
        node_names=[n or "" for n in names[nodes]],
        node_state_codes=state_codes, node_state_names=state_names, node_depths=depths[nodes].tolist(),
        edge_artifact_ids=(artifact_keys >> 1).tolist(), edge_execution_ids=(execution_keys >> 1).tolist(),
        edge_is_output=is_output.tolist(), edge_role_codes=role_codes, edge_role_names=role_names)


def _decoded(codes: Sequence[int], names: Sequence[str], column: str) -> list[str]:
    if codes and not 0 <= min(codes) <= max(codes) < len(names):
        raise errors.InvalidArgument(f"server sent a {column} code outside its dictionary")
    return list(map(names.__getitem__, codes))


def _page_columns(c: pb.LineageColumns) -> tuple[tuple, tuple]:
    ids, kinds = np.asarray(c.node_ids, np.int64), np.asarray(c.node_kinds, np.int64)
    artifacts, executions = np.asarray(c.edge_artifact_ids, np.int64), np.asarray(c.edge_execution_ids, np.int64)
    is_output = np.asarray(c.edge_is_output, bool)
    columns = {len(ids), len(kinds), len(c.node_type_codes), len(c.node_names), len(c.node_state_codes),
               len(c.node_depths)}
    if len(columns) > 1 or len({len(artifacts), len(executions), len(is_output), len(c.edge_role_codes)}) > 1:
        raise errors.InvalidArgument("server sent lineage columns of different lengths")
    if np.any((kinds < 0) | (kinds > 1)) or np.any(ids < 0):
        raise errors.InvalidArgument("server sent a bad node id or kind")
    artifact_keys, execution_keys = 2 * artifacts + ARTIFACT_KIND, 2 * executions + EXECUTION_KIND
    nodes = (2 * ids + kinds, _decoded(c.node_type_codes, c.node_type_names, "type"),
             [n or None for n in c.node_names], _decoded(c.node_state_codes, c.node_state_names, "state"),
             np.asarray(c.node_depths, np.int64))
    edges = (np.where(is_output, execution_keys, artifact_keys), np.where(is_output, artifact_keys, execution_keys),
             is_output, _decoded(c.edge_role_codes, c.edge_role_names, "role"))
    return nodes, edges


def graph_from_columns(start: Sequence[str], direction: str, depth: int | None,
                       pages: Sequence[pb.LineageColumns]) -> LineageGraph:
    """The LineageGraph (as Store.lineage returns it) from the start ids and column pages.

    Raises:
        InvalidArgument: the columns are inconsistent (different lengths, unknown codes).
    """
    decoded = [_page_columns(c) for c in pages] or [_page_columns(pb.LineageColumns())]

    def joined(part: int, column: int):
        values = [d[part][column] for d in decoded]
        if isinstance(values[0], np.ndarray):
            return np.concatenate(values)
        return [v for page in values for v in page]

    node_columns = tuple(joined(0, i) for i in range(5))
    edge_columns = tuple(joined(1, i) for i in range(4))
    return LineageGraph([NodeId.parse(s) for s in start], direction, depth, node_columns, edge_columns)


__all__ = ["graph_from_columns", "graph_to_columns", "pages_of"]
