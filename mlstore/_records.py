"""Building the MLMD messages of an execution write (the Store's write path).

Pure functions over an MLMD connection's type registry: validation of names, states,
types and properties, and the execution, artifact, event and context messages that
``Store.log_executions`` sends in one ``put_lineage_subgraph`` transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ml_metadata.proto import metadata_store_pb2 as pb

from mlstore import errors, schema
from mlstore._mlmd import Metadata, set_field
from mlstore.tfx import records as tfx_records
from mlstore.names import check_name

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
    #: The output artifacts as the index holds them (empty when unknown, e.g. a remote store).
    outputs: tuple[Any, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class PendingOutput:
    """Output ``output_index`` of execution ``execution_index`` of the same batch, used as an input."""

    execution_index: int
    output_index: int


ArtifactRef = int | PendingOutput


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution of a write (see ``Store.log_execution`` for the fields)."""

    step: str
    inputs: Sequence[tuple[ArtifactRef, str]] = ()
    outputs: Sequence[OutputArtifact] = ()
    properties: Mapping[str, Any] | None = None
    state: str = "COMPLETE"
    reused_outputs: Sequence[tuple[int, str]] = ()

    def existing_inputs(self) -> list[int]:
        """Ids of the stored artifacts this execution reads or re-outputs."""
        return [ref for ref, _ in (*self.inputs, *self.reused_outputs) if not isinstance(ref, PendingOutput)]


@dataclass
class Subgraph:
    """The messages of one ``put_lineage_subgraph`` call, index-aligned as MLMD expects."""

    executions: list[pb.Execution]
    artifacts: list[pb.Artifact]
    edges: list[tuple[int | None, int | None, pb.Event]]
    first_output: list[int]  # per execution: index of its first new artifact in ``artifacts``


def check_write(step: str, pipeline: str, outputs: Sequence[OutputArtifact], state: str,
                run_id: str | None = None, roles: Sequence[str] = ()) -> None:
    """Raises InvalidArgument for a malformed step, pipeline, run id or role, state, type or property."""
    check_name("step", step)
    if not step.replace("_", "").replace("-", "").isalnum():
        raise errors.InvalidArgument(f"step name {step!r} must be letters, digits, '_' or '-'")
    check_name("pipeline", pipeline)
    if run_id is not None:
        check_name("run_id", run_id)
    for role in roles:
        check_name("role", role)
    if state not in EXECUTION_STATES:
        raise errors.InvalidArgument(f"state must be one of {sorted(EXECUTION_STATES)}, not {state!r}")
    for output in outputs:
        check_name("type", output.type)
        schema.check_artifact_properties(output.type, output.properties)
        if not output.role:
            raise errors.InvalidArgument(f"output artifact of type {output.type} needs a role")
        check_name("role", output.role)
        if output.name is not None:
            check_name("artifact name", output.name)


def execution_message(metadata: Metadata, step: str, pipeline: str, properties: Mapping[str, Any], state: str,
                      run_id: str | None) -> pb.Execution:
    """The execution, with a fresh external id (the crash-recovery journal's key)."""
    stored_type = metadata.execution_type(step)
    execution = pb.Execution(
        type_id=stored_type.id,
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
        set_field(execution, stored_type.properties, key, value)
    return execution


def subgraph_messages(metadata: Metadata, pipeline: str, run_id: str | None, records: Sequence[ExecutionRecord],
                      stored_spans: Mapping[int, int | None]) -> Subgraph:
    """The executions, new artifacts and events of ``records``, in order.

    Inputs are stored artifacts (an event on their id: MLMD must not rewrite them) or
    outputs of an earlier record (an event on their index). An output without a span
    takes the newest span among its execution's inputs.

    Raises:
        InvalidArgument: a PendingOutput that does not name an earlier record's output.
    """
    graph = Subgraph([], [], [], [])
    spans: list[int | None] = []  # span of each new artifact, for later records' inputs
    for index, record in enumerate(records):
        check_pending_inputs(records[:index], record)
        graph.executions.append(execution_message(metadata, record.step, pipeline, record.properties or {},
                                                  record.state, run_id))
        input_spans = []
        for ref, role in record.inputs:
            if isinstance(ref, PendingOutput):
                position = graph.first_output[ref.execution_index] + ref.output_index
                graph.edges.append((index, position, _event(pb.Event.INPUT, role)))
                input_spans.append(spans[position])
            else:
                graph.edges.append((index, None, _event(pb.Event.INPUT, role, ref)))
                input_spans.append(stored_spans.get(ref))
        graph.first_output.append(len(graph.artifacts))
        known_spans = [span for span in input_spans if span is not None]
        for output in record.outputs:
            artifact = output_artifact(metadata, output, pipeline, known_spans, record.state)
            graph.edges.append((index, len(graph.artifacts), _event(pb.Event.OUTPUT, output.role)))
            graph.artifacts.append(artifact)
            span = artifact.properties.get("span") or artifact.custom_properties.get("span")
            spans.append(span.int_value if span is not None else None)
        for artifact_id, role in record.reused_outputs:
            graph.edges.append((index, None, _event(pb.Event.OUTPUT, role, artifact_id)))
    return graph


def stored_events(graph: Subgraph, execution_ids: Sequence[int], artifact_ids: Sequence[int]) -> list[pb.Event]:
    """The events of ``graph`` as MLMD stored them, given the ids its write returned."""
    events = []
    for execution_index, artifact_index, edge in graph.edges:
        event = pb.Event(type=edge.type, path=edge.path, execution_id=execution_ids[execution_index],
                         artifact_id=edge.artifact_id if artifact_index is None else artifact_ids[artifact_index])
        events.append(event)
    return events


def check_pending_inputs(earlier: Sequence[ExecutionRecord], record: ExecutionRecord) -> None:
    """Raises InvalidArgument for an input PendingOutput that is not an output of ``earlier``."""
    for ref, _ in record.inputs:
        if isinstance(ref, PendingOutput) and not (
                0 <= ref.execution_index < len(earlier)
                and 0 <= ref.output_index < len(earlier[ref.execution_index].outputs)):
            raise errors.InvalidArgument(f"input {ref} of {record.step} is not an output of an earlier execution "
                                         "in this batch")


def _event(event_type: int, role: str, artifact_id: int | None = None) -> pb.Event:
    ev = pb.Event(type=event_type, artifact_id=artifact_id)
    ev.path.steps.add().key = role
    return ev


def output_artifact(metadata: Metadata, output: OutputArtifact, pipeline: str, input_spans: Sequence[int],
                    state: str) -> pb.Artifact:
    """A new output artifact; only COMPLETE/CACHED runs make LIVE artifacts."""
    stored_type = metadata.artifact_type(output.type)
    artifact = pb.Artifact(
        type_id=stored_type.id,
        uri=output.uri,
        state=pb.Artifact.LIVE if state in ("COMPLETE", "CACHED") else pb.Artifact.ABANDONED,
    )
    if output.name:
        # MLMD keeps artifact names unique per type: a name doubles as a lock (hub versions).
        artifact.name = output.name
    props = {"digest": output.digest, "size": float(output.size), "pipeline": pipeline, **output.properties}
    if "span" not in props and input_spans:
        props["span"] = max(input_spans)  # an output derives from its newest input data
    if output.type == "Model":
        props.setdefault(tfx_records.TFX_VERSION_PROPERTY, tfx_records.TFX_VERSION)
    for key, value in props.items():
        set_field(artifact, stored_type.properties, key, value)
    return artifact


def context_messages(metadata: Metadata, pipeline: str, run_id: str | None) -> list[pb.Context]:
    """The ``pipeline`` context and, with a run id, the ``pipeline_run`` context."""
    contexts = [pb.Context(type_id=metadata.context_type_id(schema.PIPELINE_CONTEXT), name=pipeline)]
    if run_id:
        contexts.append(pb.Context(type_id=metadata.context_type_id(schema.RUN_CONTEXT), name=f"{pipeline}/{run_id}"))
    return contexts
