"""Records the public API returns: node ids, artifacts, executions, metric points."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from mlstore.errors import InvalidArgument

NodeKind = Literal["artifact", "execution"]

_NODE_ID = re.compile(r"(artifact|execution|context):([0-9]{1,19})")


@dataclass(frozen=True, order=True)
class NodeId:
    """A typed lineage node id, printed as ``artifact:<n>`` or ``execution:<n>``."""

    kind: NodeKind
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> "NodeId":
        """Parses ``artifact:<n>`` / ``execution:<n>``.

        Raises:
            InvalidArgument: ``text`` is not of that form.
        """
        if not isinstance(text, str):
            raise InvalidArgument(f"bad node id {text!r}: expected a string artifact:<n> or execution:<n>")
        match = _NODE_ID.fullmatch(text.strip())
        if not match or match.group(1) == "context":
            raise InvalidArgument(
                f"bad node id {text[:40]!r}{'...' if len(text) > 40 else ''}: expected artifact:<n>, execution:<n> or sha256:<digest prefix>"
            )
        if int(match.group(2)) >= 2**63:  # ids are int64 in every backend; larger ones overflow drivers
            raise InvalidArgument(f"bad node id {text[:40]!r}: the id is larger than any int64")
        # (at most 19 digits are matched: int() of thousands of digits raises ValueError)
        return cls(match.group(1), int(match.group(2)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Artifact:
    """An artifact as recorded: identity, content digest, where its bytes are, properties."""

    id: int
    type: str
    uri: str
    digest: str | None
    size: int | None
    state: str
    pipeline: str | None
    span: int | None
    create_time_ms: int
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def node_id(self) -> NodeId:
        return NodeId("artifact", self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.node_id),
            "type": self.type,
            "name": self.name,
            "uri": self.uri,
            "digest": self.digest,
            "size": self.size,
            "state": self.state,
            "pipeline": self.pipeline,
            "span": self.span,
            "create_time_ms": self.create_time_ms,
            "properties": self.properties,
        }


@dataclass(frozen=True)
class Execution:
    """A step execution as recorded, with what the SDK captured in ``properties``."""

    id: int
    type: str
    state: str
    pipeline: str | None
    create_time_ms: int
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def node_id(self) -> NodeId:
        return NodeId("execution", self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.node_id),
            "type": self.type,
            "state": self.state,
            "pipeline": self.pipeline,
            "create_time_ms": self.create_time_ms,
            "properties": self.properties,
        }


@dataclass(frozen=True)
class EventRecord:
    """An input or output of an execution."""

    execution_id: int
    artifact_id: int
    is_output: bool
    role: str


class MetricPoint(NamedTuple):
    """One model's value of a metric on a slice (a tuple: series have thousands of points)."""

    model_id: int
    evaluation_id: int
    span: int | None
    value: float


@dataclass(frozen=True)
class Blessing:
    """A gate decision on a model."""

    id: int
    model_id: int
    baseline_id: int | None
    evaluation_id: int | None
    pipeline: str | None
    blessed: bool
    span: int | None
    create_time_ms: int


def decoded_property(value: Any) -> Any:
    """A property value that holds JSON text (params, seeds, metrics, tags) decoded; any
    other value (and text that is not JSON) as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
