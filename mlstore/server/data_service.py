"""DataService: TFDV statistics, drift, anomalies and schemas, answered by the same Store reads as
the CLI (:mod:`mlstore.components.statistics.reads`)."""

from __future__ import annotations

from mlstore.server.backend import Backend
from mlstore.server.convert import optional_field as _opt
from mlstore.server.data_messages import anomalies_to_pb, drift_to_pb, schema_to_pb, statistics_to_pb
from mlstore.server.status import rpc
from mlstore.v1 import data_service_pb2_grpc as dgrpc


class DataService(dgrpc.DataServiceServicer):
    def __init__(self, backend: Backend):
        self.store = backend.reader

    @rpc
    def GetStatistics(self, request, context):
        return statistics_to_pb(self.store.statistics_summary(request.ref, _opt(request, "split")))

    @rpc
    def DiffStatistics(self, request, context):
        return drift_to_pb(self.store.statistics_drift(request.a, request.b, split=_opt(request, "split"),
                                                       threshold=_opt(request, "threshold"),
                                                       schema=_opt(request, "schema")))

    @rpc
    def GetAnomalies(self, request, context):
        return anomalies_to_pb(self.store.anomalies_summary(request.ref))

    @rpc
    def GetSchema(self, request, context):
        return schema_to_pb(self.store.schema_summary(request.ref))
