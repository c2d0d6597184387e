"""Conversions between mlstore's Python records and the v1 protobuf messages.

Both sides use these: the server to answer, :mod:`mlstore.client` to rebuild the exact
records the local :class:`~mlstore.store.Store` returns (so answers are identical).
"""

from __future__ import annotations

from typing import Any, Mapping

from mlstore import errors
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint
from mlstore.v1 import types_pb2 as pb

DIRECTIONS = {"up": pb.DIRECTION_UP, "down": pb.DIRECTION_DOWN, "both": pb.DIRECTION_BOTH}
_DIRECTION_NAMES = {v: k for k, v in DIRECTIONS.items()}


def optional_field(message, field: str) -> Any:
    """The value of an ``optional`` field, None when unset."""
    return getattr(message, field) if message.HasField(field) else None


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
