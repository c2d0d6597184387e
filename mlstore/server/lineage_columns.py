"""LineageGraph <-> ``LineageColumns`` (packed numeric columns, see types.proto).

Both directions work on the graph's raw columns (:meth:`LineageGraph.columns`): node
keys are ``2*id + kind`` int64 arrays (:func:`mlstore.index.tables.node_key`), so ids
and kinds are two vectorised operations. Types, states and roles travel as small
dictionaries plus codes.

Why the columns are written as wire bytes: handing protobuf a Python list costs ~40 ns
per element (25 ms for a 60,000-node graph, more than the query). A packed
``sfixed64``/``sfixed32`` field is on the wire just ``tag, length, little-endian array``,
so :func:`_packed` writes it from the numpy array; repeated strings (node names, nearly
all empty) are written once per distinct value and repeated. The server sends these
bytes as they are (see ``server/app.py``); any protobuf parser reads them as the typed
fields.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from mlstore import errors
from mlstore.index.tables import ARTIFACT_KIND, EXECUTION_KIND
from mlstore.lineage import CodedStrings, LineageGraph
from mlstore.types import NodeId
from mlstore.v1 import types_pb2 as pb


def page_bytes(graph: LineageGraph, size: int) -> Iterator[bytes]:
    """The wire bytes of the graph's LineageColumns pages, each of at most ``size`` nodes and ``size`` edges."""
    for i in range(max(1, -(-max(graph.node_count, graph.edge_count) // size))):
        yield columns_bytes(graph, slice(i * size, (i + 1) * size), slice(i * size, (i + 1) * size))


def message_field(message_class, field: str, payload: bytes) -> bytes:
    """The wire bytes of the message-typed ``field`` of ``message_class`` holding ``payload``.

    Appended to a serialized message, it sets that field (protobuf merges concatenations).
    """
    number = message_class.DESCRIPTOR.fields_by_name[field].number
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


_FIELDS = pb.LineageColumns.DESCRIPTOR.fields_by_name
_LENGTH_DELIMITED = 2  # protobuf wire type of packed repeated fields, strings, bytes and messages


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: str) -> bytes:
    return _varint(_FIELDS[field].number << 3 | _LENGTH_DELIMITED)


def _packed(field: str, values: np.ndarray) -> bytes:
    """The wire bytes of packed sfixed64/sfixed32 ``field`` holding ``values``."""
    dtype = "<i8" if _FIELDS[field].type == _FIELDS[field].TYPE_SFIXED64 else "<i4"
    payload = np.ascontiguousarray(values, dtype=dtype).tobytes()
    return _length_delimited(field, payload) if payload else b""


def _length_delimited(field: str, payload: bytes) -> bytes:
    return _tag(field) + _varint(len(payload)) + payload


def _strings(field: str, values: Sequence[str | None]) -> bytes:
    """The wire bytes of repeated string ``field`` (``None`` as ""): per distinct value once."""
    codes, names = _codes(values)
    pieces = [_length_delimited(field, (name or "").encode()) for name in names]
    if len(names) == 1:
        return pieces[0] * len(codes)
    return b"".join(map(pieces.__getitem__, codes.tolist()))


def _codes(values: Sequence[str | None]) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary encoding: (codes, names) with ``names[codes[i]] == values[i]``."""
    if isinstance(values, CodedStrings):
        return values.codes, list(values.names)
    names = list(dict.fromkeys(values))  # first-seen order; a handful of distinct names
    index = {name: code for code, name in enumerate(names)}
    return np.fromiter(map(index.__getitem__, values), np.int32, len(values)), names


def columns_bytes(graph: LineageGraph, nodes: slice = slice(None), edges: slice = slice(None)) -> bytes:
    """The wire bytes of the LineageColumns of ``graph[nodes], graph[edges]``."""
    (keys, types, names, states, depths), (src, dst, is_output, roles) = graph.columns()
    keys, src, dst, is_output = keys[nodes], src[edges], dst[edges], is_output[edges]
    # An OUTPUT edge runs execution -> artifact, an INPUT edge artifact -> execution.
    artifact_keys, execution_keys = np.where(is_output, dst, src), np.where(is_output, src, dst)
    if np.any(artifact_keys & 1 != ARTIFACT_KIND) or np.any(execution_keys & 1 == ARTIFACT_KIND):
        raise errors.IntegrityError("a lineage edge does not connect an artifact and an execution")
    type_codes, type_names = _codes(types[nodes])
    state_codes, state_names = _codes(states[nodes])
    role_codes, role_names = _codes(roles[edges])
    dictionaries = pb.LineageColumns(node_type_names=type_names, node_state_names=state_names,
                                     edge_role_names=role_names).SerializeToString()
    return b"".join((
        dictionaries,
        _length_delimited("node_kinds", (keys & 1).astype(np.uint8).tobytes()) if len(keys) else b"",
        _length_delimited("edge_is_output", is_output.astype(np.uint8).tobytes()) if len(is_output) else b"",
        _strings("node_names", names[nodes]) if len(keys) else b"",
        _packed("node_ids", keys >> 1), _packed("node_type_codes", type_codes),
        _packed("node_state_codes", state_codes), _packed("node_depths", depths[nodes]),
        _packed("edge_artifact_ids", artifact_keys >> 1), _packed("edge_execution_ids", execution_keys >> 1),
        _packed("edge_role_codes", role_codes)))


def _array(column, dtype) -> np.ndarray:
    return np.fromiter(column, dtype, len(column))


def _decoded(codes, names: Sequence[str], column: str) -> CodedStrings:
    codes = _array(codes, np.int64)
    if len(codes) and not 0 <= codes.min() <= codes.max() < len(names):
        raise errors.InvalidArgument(f"server sent a {column} code outside its dictionary")
    return CodedStrings(codes, list(names))


def _page_columns(c: pb.LineageColumns) -> tuple[tuple, tuple]:
    ids, kinds = _array(c.node_ids, np.int64), np.frombuffer(c.node_kinds, np.uint8).astype(np.int64)
    artifacts, executions = _array(c.edge_artifact_ids, np.int64), _array(c.edge_execution_ids, np.int64)
    is_output = np.frombuffer(c.edge_is_output, np.uint8) != 0
    columns = {len(ids), len(kinds), len(c.node_type_codes), len(c.node_names), len(c.node_state_codes),
               len(c.node_depths)}
    if len(columns) > 1 or len({len(artifacts), len(executions), len(is_output), len(c.edge_role_codes)}) > 1:
        raise errors.InvalidArgument("server sent lineage columns of different lengths")
    if np.any((kinds < 0) | (kinds > 1)) or np.any(ids < 0):
        raise errors.InvalidArgument("server sent a bad node id or kind")
    artifact_keys, execution_keys = 2 * artifacts + ARTIFACT_KIND, 2 * executions + EXECUTION_KIND
    nodes = (2 * ids + kinds, _decoded(c.node_type_codes, c.node_type_names, "type"),
             [n or None for n in c.node_names], _decoded(c.node_state_codes, c.node_state_names, "state"),
             _array(c.node_depths, np.int64))
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
        if len(values) == 1:
            return values[0]
        if isinstance(values[0], np.ndarray):
            return np.concatenate(values)
        return [v for page in values for v in page]

    node_columns = tuple(joined(0, i) for i in range(5))
    edge_columns = tuple(joined(1, i) for i in range(4))
    return LineageGraph([NodeId.parse(s) for s in start], direction, depth, node_columns, edge_columns)


__all__ = ["columns_bytes", "graph_from_columns", "message_field", "page_bytes"]
