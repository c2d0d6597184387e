"""AdminService: garbage collection and pins on the server's own store (mlstore.gc), so a
platform team administers a shared store without database credentials. Every call but
ListPins needs the ``admin`` scope (:data:`mlstore.server.auth.METHOD_SCOPES`)."""

from __future__ import annotations

from mlstore import gc as gc_api
from mlstore.server.admin_messages import gc_result_to_pb, pin_to_pb, policy_from_pb
from mlstore.server.backend import Backend
from mlstore.server.status import rpc
from mlstore.v1 import admin_service_pb2 as apb
from mlstore.v1 import admin_service_pb2_grpc as agrpc

#: How long an admin call waits for a free write connection before UNAVAILABLE.
ADMIN_WRITER_WAIT_S = 30.0


class AdminService(agrpc.AdminServiceServicer):
    def __init__(self, backend: Backend):
        self.backend = backend

    @rpc
    def CollectGarbage(self, request, context):
        policy = policy_from_pb(request.policy)  # validated before a connection is borrowed
        with self.backend.writer(timeout=ADMIN_WRITER_WAIT_S) as store:
            result = gc_api.collect(store, policy, dry_run=request.dry_run)
        return gc_result_to_pb(result)

    @rpc
    def PinArtifact(self, request, context):
        with self.backend.writer(timeout=ADMIN_WRITER_WAIT_S) as store:
            return apb.PinArtifactResponse(pin=pin_to_pb(gc_api.pin(store, request.ref, request.reason)))

    @rpc
    def UnpinArtifact(self, request, context):
        with self.backend.writer(timeout=ADMIN_WRITER_WAIT_S) as store:
            return apb.UnpinArtifactResponse(unpinned=gc_api.unpin(store, request.ref))

    @rpc
    def ListPins(self, request, context):
        return apb.ListPinsResponse(pins=[pin_to_pb(p) for p in gc_api.list_pins(self.backend.reader)])
