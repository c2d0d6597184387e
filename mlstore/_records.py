"""Building the MLMD messages of one execution write (the Store's write path).

Pure functions over an MLMD connection's type registry: validation of names, states,
types and properties, and the execution, artifact, event and context messages that
``Store.log_execution`` sends in one ``put_execution`` transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ml_metadata.proto import metadata_store_pb2 as pb

from mlstore import errors, schema
from mlstore._mlmd import Metadata, set_property

EXECUTION_STATES = frozenset({"COMPLETE", "FAILED", "CACHED", "RUNNING", "CANCELED"})


@dataclass(frozen=True)
class OutputArtifact:
    """An artifact an execution produced; its bytes are already published as ``digest``."""

    type: str
    uri: str
    digest: str
    size: int
    role: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class LoggedExecution:
    execution_id: int
    output_ids: tuple[int, ...]


def check_write(step: str, pipeline: str, outputs: Sequence[OutputArtifact], state: str) -> None:
    """Raises InvalidArgument for a malformed step or pipeline name, state, type or property."""
    if not step or not step.replace("_", "").replace("-", "").isalnum():
        raise errors.InvalidArgument(f"step name {step!r} must be letters, digits, '_' or '-'")
    if not pipeline or len(pipeline) > 255:
        raise errors.InvalidArgument("pipeline name must be 1-255 characters")
    if state not in EXECUTION_STATES:
        raise errors.InvalidArgument(f"state must be one of {sorted(EXECUTION_STATES)}, not {state!r}")
    for output in outputs:
        schema.check_artifact_properties(output.type, output.properties)
        if not output.role:
            raise errors.InvalidArgument(f"output artifact of type {output.type} needs a role")


def execution_message(metadata: Metadata, step: str, pipeline: str, properties: Mapping[str, Any], state: str,
                      run_id: str | None) -> pb.Execution:
    """The execution, with a fresh external id (the crash-recovery journal's key)."""
    execution = pb.Execution(
        type_id=metadata.execution_type_id(step),
        last_known_state=pb.Execution.State.Value(state),
        external_id=f"mlstore:{uuid.uuid4().hex}",
    )
    for key, value in {"pipeline": pipeline, "run_id": run_id or "", **properties}.items():
        if value is None:
            continue
        if key in schema.COMMON_EXECUTION_PROPERTIES:
            kind = schema.COMMON_EXECUTION_PROPERTIES[key]
            if kind == schema.STRING and not isinstance(value, str):
                value = json.dumps(value, sort_keys=True)
            schema.check_value(f"{step}.{key}", kind, value)
            set_property(execution.properties, key, value)
        else:
            if isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True)
            set_property(execution.custom_properties, key, value)
    return execution


def event_pairs(refs: Sequence[tuple[int, str]], event_type: int) -> list[tuple[None, pb.Event]]:
    """Events on existing artifacts (no artifact message: MLMD must not rewrite them)."""
    pairs = []
    for artifact_id, role in refs:
        ev = pb.Event(type=event_type, artifact_id=artifact_id)
        ev.path.steps.add().key = role
        pairs.append((None, ev))
    return pairs


def output_pair(metadata: Metadata, output: OutputArtifact, pipeline: str, input_spans: Sequence[int],
                state: str) -> tuple[pb.Artifact, pb.Event]:
    """A new output artifact and its OUTPUT event; only COMPLETE/CACHED runs make LIVE artifacts."""
    artifact = pb.Artifact(
        type_id=metadata.artifact_type_id(output.type),
        uri=output.uri,
        state=pb.Artifact.LIVE if state in ("COMPLETE", "CACHED") else pb.Artifact.ABANDONED,
    )
    if output.name:
        # MLMD keeps artifact names unique per type: a name doubles as a lock (hub versions).
        artifact.name = output.name
    props = {"digest": output.digest, "size": float(output.size), "pipeline": pipeline, **output.properties}
    if "span" not in props and input_spans:
        props["span"] = max(input_spans)  # an output derives from its newest input data
    for key, value in props.items():
        set_property(artifact.properties, key, value)
    ev = pb.Event(type=pb.Event.OUTPUT)
    ev.path.steps.add().key = output.role
    return artifact, ev


def context_messages(metadata: Metadata, pipeline: str, run_id: str | None) -> list[pb.Context]:
    """The ``pipeline`` context and, with a run id, the ``pipeline_run`` context."""
    contexts = [pb.Context(type_id=metadata.context_type_id(schema.PIPELINE_CONTEXT), name=pipeline)]
    if run_id:
        contexts.append(pb.Context(type_id=metadata.context_type_id(schema.RUN_CONTEXT), name=f"{pipeline}/{run_id}"))
    return contexts
