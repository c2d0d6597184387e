"""ModelService (metrics, blessings, warm start) and GateService."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mlstore import errors
from mlstore.push import push_model
from mlstore.server import convert
from mlstore.server.backend import Backend
from mlstore.server.gating import evaluate_gate
from mlstore.server.push_messages import push_result_to_pb
from mlstore.server.status import rpc
from mlstore.server.warm_start import requirement_from_pb, selection_to_pb
from mlstore.v1 import gate_service_pb2 as gpb
from mlstore.v1 import gate_service_pb2_grpc as ggrpc
from mlstore.v1 import model_service_pb2 as mpb
from mlstore.v1 import model_service_pb2_grpc as mgrpc
from mlstore.v1 import types_pb2 as tpb
from mlstore.warmstart.from_store import select_warm_start


#: How long a PushModel waits for a free write connection before UNAVAILABLE.
PUSH_WRITER_WAIT_S = 30.0


def _opt(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


class ModelService(mgrpc.ModelServiceServicer):
    """Model queries. GetMetricSeries and GetLatestBlessed answer NOT_FOUND for a pipeline
    with nothing recorded (or an unknown metric) and INVALID_ARGUMENT for an empty name,
    as the Store and the CLI do, instead of an empty answer."""

    def __init__(self, backend: Backend, push_roots: Sequence[Path] = ()):
        self.store = backend.reader
        self.backend = backend
        self.push_roots = tuple(Path(r).resolve() for r in push_roots)

    @rpc
    def GetMetricSeries(self, request, context):
        points = self.store.metric_series(request.pipeline, request.metric, request.slice or "Overall")
        return mpb.GetMetricSeriesResponse(points=[convert.metric_point_to_pb(p) for p in points])

    @rpc
    def GetEvaluationMetrics(self, request, context):
        metrics = self.store.evaluation_metrics(request.ref)
        return mpb.GetEvaluationMetricsResponse(
            slices=[tpb.SliceMetrics(slice=k, metrics=v, metric_order=list(v)) for k, v in metrics.items()])

    @rpc
    def GetLatestBlessed(self, request, context):
        model = self.store.latest_blessed(request.pipeline)
        return mpb.GetLatestBlessedResponse(model=convert.artifact_to_pb(model) if model else None)

    @rpc
    def ListDailyModels(self, request, context):
        models = self.store.daily_models(request.pipeline, newest=_opt(request, "newest"))
        return mpb.ListDailyModelsResponse(models=[convert.artifact_to_pb(m) for m in models])

    @rpc
    def GetNewestDailyModel(self, request, context):
        models = self.store.daily_models(request.pipeline, newest=1)
        return mpb.GetNewestDailyModelResponse(model=convert.artifact_to_pb(models[0]) if models else None)

    @rpc
    def ListBlessings(self, request, context):
        found = self.store.blessings(pipeline=_opt(request, "pipeline"), model=_opt(request, "model"))
        return mpb.ListBlessingsResponse(blessings=[convert.blessing_to_pb(b) for b in found])

    @rpc
    def ListPipelines(self, request, context):
        return mpb.ListPipelinesResponse(pipelines=self.store.pipelines())

    @rpc
    def ListMetricNames(self, request, context):
        return mpb.ListMetricNamesResponse(metric_names=self.store.metric_names(request.pipeline))

    @rpc
    def ListSlices(self, request, context):
        return mpb.ListSlicesResponse(slices=self.store.slices(request.pipeline, metric=_opt(request, "metric")))

    @rpc
    def SelectWarmStart(self, request, context):
        if not request.pipeline:
            raise errors.InvalidArgument("SelectWarmStart needs a pipeline")
        if not request.policy:
            raise errors.InvalidArgument("SelectWarmStart needs a policy: latest, latest_blessed, as_of, best or "
                                         "best:METRIC[@SLICE] (an empty policy is not taken to mean latest_blessed)")
        requirement = (requirement_from_pb(self.store, request.require_compatible)
                       if request.HasField("require_compatible") else None)
        selection = select_warm_start(
            self.store, request.pipeline, request.policy, metric=request.metric or None,
            slice=request.slice or "Overall", as_of=_opt(request, "as_of_span"),
            higher_is_better=_opt(request, "higher_is_better"), exclude=list(request.exclude),
            require_compatible=requirement, explain=request.explain or "ranked")
        chosen = self.store.artifact(selection.chosen.model_id) if selection.chosen else None
        return selection_to_pb(selection, convert.artifact_to_pb(chosen) if chosen else None)

    @rpc
    def PushModel(self, request, context):
        base = self._push_base(request.base_dir)
        with self.backend.writer(timeout=PUSH_WRITER_WAIT_S) as store:
            result = push_model(store, request.model, base, request.model_name, force=request.force,
                                pipeline=_opt(request, "pipeline"))
        return push_result_to_pb(result)

    def _push_base(self, base_dir: str) -> Path:
        """``base_dir`` after checking it lies under one of the server's push roots.

        Raises:
            FailedPrecondition: the server has no push root. InvalidArgument: not an
                absolute path. PermissionDenied: outside every push root.
        """
        if not self.push_roots:
            raise errors.FailedPrecondition("this server pushes nowhere: start it with --push-root DIR "
                                            "to allow pushes under DIR")
        if not base_dir or "\0" in base_dir or not Path(base_dir).is_absolute():
            raise errors.InvalidArgument(f"base_dir must be an absolute path on the server, not {base_dir!r}")
        resolved = Path(base_dir).resolve()
        if not any(resolved == root or root in resolved.parents for root in self.push_roots):
            raise errors.PermissionDenied(f"{base_dir} is outside the server's push roots "
                                          f"({', '.join(map(str, self.push_roots))})")
        return resolved


class GateService(ggrpc.GateServiceServicer):
    def __init__(self, backend: Backend):
        self.store = backend.reader

    @rpc
    def EvaluateGate(self, request, context):
        outcome = evaluate_gate(self.store, request.spec_yaml, request.candidate,
                                _opt(request, "baseline"), request.no_baseline)
        return gpb.EvaluateGateResponse(
            report=outcome.report_pb(), candidate_evaluation=str(outcome.candidate.node_id),
            baseline_evaluation=str(outcome.baseline.node_id) if outcome.baseline else None, text=outcome.text)
