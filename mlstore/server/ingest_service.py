"""IngestService: LogExecution, one execution with its artifacts and events, atomically.

Artifact bytes are not part of the request: the client publishes them to the shared
artifact root first, and the Store refuses outputs whose blob does not exist.
"""

from __future__ import annotations

from mlstore import errors
from mlstore.server import convert
from mlstore.server.backend import Backend
from mlstore.server.status import rpc
from mlstore.store import OutputArtifact
from mlstore.v1 import ingest_service_pb2 as ipb
from mlstore.v1 import ingest_service_pb2_grpc as igrpc

#: How long a LogExecution waits for a free write connection before UNAVAILABLE.
WRITER_WAIT_S = 30.0


def _opt(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


def _check_roles(roles: list[str]) -> None:
    # Same rule as the SDK: roles become MLMD event path keys and index values.
    for role in roles:
        if not role or len(role) > 64 or not role.replace("_", "").isalnum():
            raise errors.InvalidArgument(f"role {role[:80]!r} must be 1-64 letters, digits or '_'")


class IngestService(igrpc.IngestServiceServicer):
    def __init__(self, backend: Backend):
        self.backend = backend

    @rpc
    def LogExecution(self, request, context):
        outputs = [
            OutputArtifact(type=o.type, uri=o.uri, digest=o.digest, size=o.size, role=o.role,
                           properties=convert.properties_from_pb(o.properties), name=_opt(o, "name"))
            for o in request.outputs
        ]
        _check_roles([i.role for i in request.inputs] + [o.role for o in outputs])
        for o in outputs:
            if o.size < 0:
                raise errors.InvalidArgument(f"output {o.role!r}: size must be >= 0")
        with self.backend.writer(timeout=WRITER_WAIT_S) as store:
            logged = store.log_execution(
                request.step, request.pipeline, inputs=[(i.artifact_id, i.role) for i in request.inputs],
                outputs=outputs, properties=convert.properties_from_pb(request.properties),
                state=request.state or "COMPLETE", run_id=_opt(request, "run_id"))
        return ipb.LogExecutionResponse(execution_id=logged.execution_id, output_ids=list(logged.output_ids))
