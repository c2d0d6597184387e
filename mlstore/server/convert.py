"""Conversions between mlstore's Python records and the v1 protobuf messages.

Both sides use these: the server to answer, :mod:`mlstore.client` to rebuild the exact
records the local :class:`~mlstore.store.Store` returns (so answers are identical).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from mlstore import errors
from mlstore.index.tables import ARTIFACT_KIND, EXECUTION_KIND, node_key
from mlstore.lineage import LineageGraph
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId
from mlstore.v1 import types_pb2 as pb

DIRECTIONS = {"up": pb.DIRECTION_UP, "down": pb.DIRECTION_DOWN, "both": pb.DIRECTION_BOTH}
_DIRECTION_NAMES = {v: k for k, v in DIRECTIONS.items()}


def direction_name(value: int) -> str:
    """``up``/``down``/``both`` of a Direction enum value (UNSPECIFIED means up).

    Raises:
        InvalidArgument: an unknown enum value.
    """
    if value == pb.DIRECTION_UNSPECIFIED:
        return "up"
    if value not in _DIRECTION_NAMES:
        raise errors.InvalidArgument(f"unknown lineage direction {value}; use UP, DOWN or BOTH")
    return _DIRECTION_NAMES[value]


# -- properties ----------------------------------------------------------------------------

def property_to_pb(value: Any) -> pb.PropertyValue:
    """A Python property value (bool, int, float, str) as a PropertyValue."""
    if isinstance(value, bool):
        return pb.PropertyValue(bool_value=value)
    if isinstance(value, int):
        return pb.PropertyValue(int_value=value)
    if isinstance(value, float):
        return pb.PropertyValue(double_value=value)
    return pb.PropertyValue(string_value=str(value))


def property_from_pb(value: pb.PropertyValue) -> Any:
    kind = value.WhichOneof("kind")
    return getattr(value, kind) if kind else None


def properties_to_pb(target, properties: Mapping[str, Any]) -> None:
    for key, value in properties.items():
        if value is not None:
            target[key].CopyFrom(property_to_pb(value))


def properties_from_pb(source) -> dict[str, Any]:
    return {key: property_from_pb(value) for key, value in sorted(source.items())}


def _opt(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


# -- records ---------------------------------------------------------------------------------

def artifact_to_pb(a: Artifact) -> pb.Artifact:
    message = pb.Artifact(id=a.id, type=a.type, uri=a.uri, state=a.state, create_time_ms=a.create_time_ms,
                          digest=a.digest, size=a.size, pipeline=a.pipeline, span=a.span, name=a.name)
    properties_to_pb(message.properties, a.properties)
    return message


def artifact_from_pb(m: pb.Artifact) -> Artifact:
    return Artifact(id=m.id, type=m.type, uri=m.uri, digest=_opt(m, "digest"), size=_opt(m, "size"),
                    state=m.state, pipeline=_opt(m, "pipeline"), span=_opt(m, "span"),
                    create_time_ms=m.create_time_ms, name=_opt(m, "name"),
                    properties=properties_from_pb(m.properties))


def execution_to_pb(e: Execution) -> pb.Execution:
    message = pb.Execution(id=e.id, type=e.type, state=e.state, pipeline=e.pipeline,
                           create_time_ms=e.create_time_ms)
    properties_to_pb(message.properties, e.properties)
    return message


def execution_from_pb(m: pb.Execution) -> Execution:
    return Execution(id=m.id, type=m.type, state=m.state, pipeline=_opt(m, "pipeline"),
                     create_time_ms=m.create_time_ms, properties=properties_from_pb(m.properties))


def event_to_pb(e: EventRecord) -> pb.Event:
    return pb.Event(execution_id=e.execution_id, artifact_id=e.artifact_id, is_output=e.is_output, role=e.role)


def event_from_pb(m: pb.Event) -> EventRecord:
    return EventRecord(m.execution_id, m.artifact_id, m.is_output, m.role)


def metric_point_to_pb(p: MetricPoint) -> pb.MetricPoint:
    return pb.MetricPoint(model_id=p.model_id, evaluation_id=p.evaluation_id, span=p.span, value=p.value)


def metric_point_from_pb(m: pb.MetricPoint) -> MetricPoint:
    return MetricPoint(m.model_id, m.evaluation_id, _opt(m, "span"), m.value)


def blessing_to_pb(b: Blessing) -> pb.Blessing:
    return pb.Blessing(id=b.id, model_id=b.model_id, baseline_id=b.baseline_id, evaluation_id=b.evaluation_id,
                       pipeline=b.pipeline, blessed=b.blessed, span=b.span, create_time_ms=b.create_time_ms)


def blessing_from_pb(m: pb.Blessing) -> Blessing:
    return Blessing(id=m.id, model_id=m.model_id, baseline_id=_opt(m, "baseline_id"),
                    evaluation_id=_opt(m, "evaluation_id"), pipeline=_opt(m, "pipeline"), blessed=m.blessed,
                    span=_opt(m, "span"), create_time_ms=m.create_time_ms)


# -- lineage ---------------------------------------------------------------------------------

def graph_to_columns(graph: LineageGraph) -> tuple[list[str], pb.LineageColumns]:
    """The start ids and the LineageColumns of a graph (vectorised, no node objects)."""
    return [str(s) for s in graph.start], _columns(graph, slice(None), slice(None))


def pages_of(graph: LineageGraph, size: int) -> Iterator[pb.LineageColumns]:
    """The graph as LineageColumns pages of at most ``size`` nodes and ``size`` edges."""
    for i in range(max(1, -(-max(graph.node_count, graph.edge_count) // size))):
        yield _columns(graph, slice(i * size, (i + 1) * size), slice(i * size, (i + 1) * size))


_PREFIXES = ("artifact:", "execution:")  # indexed by node kind (ARTIFACT_KIND = 0, EXECUTION_KIND = 1)


def _labels(keys: np.ndarray) -> list[str]:
    """``artifact:<n>`` / ``execution:<n>`` for node keys (key = 2*id + kind)."""
    return [_PREFIXES[k & 1] + str(k >> 1) for k in keys.tolist()]


def _columns(graph: LineageGraph, nodes: slice, edges: slice) -> pb.LineageColumns:
    # Each column is one list handed to protobuf, which copies it in C.
    (keys, types, names, states, depths), (src, dst, is_output, roles) = graph.columns()
    return pb.LineageColumns(
        node_ids=_labels(keys[nodes]), node_types=types[nodes], node_names=[n or "" for n in names[nodes]],
        node_states=states[nodes], node_depths=depths[nodes].tolist(),
        edge_sources=_labels(src[edges]), edge_targets=_labels(dst[edges]),
        edge_is_output=is_output[edges].tolist(), edge_roles=roles[edges])


_KIND_CODES = {"artifact": ARTIFACT_KIND, "execution": EXECUTION_KIND}


def _keys(labels: Sequence[str]) -> np.ndarray:
    """Node keys (see mlstore.index.tables.node_key) of "artifact:<n>"/"execution:<n>" labels."""
    keys = np.empty(len(labels), np.int64)
    for i, label in enumerate(labels):
        kind, _, number = label.partition(":")
        if kind not in _KIND_CODES or not number.isdigit():
            raise errors.InvalidArgument(f"server sent a bad node id {label[:40]!r}")
        keys[i] = node_key(_KIND_CODES[kind], int(number))
    return keys


def graph_from_columns(start: Sequence[str], direction: str, depth: int | None,
                       pages: Sequence[pb.LineageColumns]) -> LineageGraph:
    """The LineageGraph (as Store.lineage returns it) from the start ids and column pages."""
    ids, types, names, states, depths = [], [], [], [], []
    sources, targets, outputs, roles = [], [], [], []
    for c in pages:
        ids += c.node_ids
        types += c.node_types
        names += [n or None for n in c.node_names]
        states += c.node_states
        depths += c.node_depths
        sources += c.edge_sources
        targets += c.edge_targets
        outputs += c.edge_is_output
        roles += c.edge_roles
    node_columns = (_keys(ids), types, names, states, np.asarray(depths, np.int64))
    edge_columns = (_keys(sources), _keys(targets), np.asarray(outputs, bool), roles)
    return LineageGraph([NodeId.parse(s) for s in start], direction, depth, node_columns, edge_columns)
