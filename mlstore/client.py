"""``RemoteStore``: the :class:`~mlstore.store_api.StoreAPI` over an ``mlstore serve`` server.

>>> store = mlstore.open("grpc://127.0.0.1:50051")     # token: $MLSTORE_TOKEN
>>> store.lineage("artifact:12", direction="up")

Every method answers exactly as :class:`mlstore.store.Store` does and raises the same
typed errors (status codes are mapped back); a call the server has no RPC for yet
raises :class:`~mlstore.errors.Unimplemented` naming what to run instead. Artifact bytes
never go through gRPC: ``blobs`` is the shared artifact root the server advertises (GetStoreInfo), so
``run.log_artifact`` publishes there and ``verify`` re-hashes locally.
"""

from __future__ import annotations

import dataclasses
import json
import os
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import grpc

from mlstore import errors
from mlstore._uri import StoreLocation
from mlstore._records import LoggedExecution, OutputArtifact
from mlstore.artifact_bytes import artifact_local_path, read_roots, verify_artifacts
from mlstore.blobs import BlobStore
from mlstore.lineage import LineageGraph
from mlstore.server import convert, lineage_columns
from mlstore.server.data_messages import (anomalies_from_pb, drift_from_pb, schema_from_pb,
                                         statistics_from_pb)
from mlstore.server.status import raise_for
from mlstore.server.warm_start import ModelRequirement, requirement_to_pb, selection_from_pb
from mlstore.store_api import BytesReport, StoreAPI, check_targets
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId
from mlstore.v1 import (admin_service_pb2 as adpb, admin_service_pb2_grpc as adgrpc,
                        artifact_service_pb2 as apb, artifact_service_pb2_grpc as agrpc,
                        data_service_pb2 as dpb, data_service_pb2_grpc as dgrpc,
                        gate_service_pb2 as gpb, gate_service_pb2_grpc as ggrpc,
                        ingest_service_pb2 as ipb, ingest_service_pb2_grpc as igrpc,
                        lineage_service_pb2 as lpb, lineage_service_pb2_grpc as lgrpc,
                        model_service_pb2 as mpb, model_service_pb2_grpc as mgrpc,
                        store_service_pb2 as spb, store_service_pb2_grpc as sgrpc, types_pb2 as tpb)
from mlstore.warmstart.from_store import CompatibilityRequirement
from mlstore.warmstart.policies import Selection

if TYPE_CHECKING:
    from mlstore.diff import RunDiff
    from mlstore.gc.pins import Pin
    from mlstore.gc.policy import RetentionPolicy
    from mlstore.gc.sweep import GcResult
    from mlstore.push import PushResult

#: Default per-call deadline in seconds.
DEFAULT_TIMEOUT_S = 60.0
#: Deadline of a remote gc: it marks and sweeps a whole store.
GC_TIMEOUT_S = 3600.0
_PAGE = 1000
_MAX_MESSAGE = 64 * 1024 * 1024


def _ref(ref: Any, default_kind: str = "artifact") -> str:
    if isinstance(ref, (Artifact, Execution)):
        return str(ref.node_id)
    if isinstance(ref, NodeId):
        return str(ref)
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        raise errors.InvalidArgument(f"cannot use {type(ref).__name__} as a node reference")
    return f"{default_kind}:{ref}" if isinstance(ref, int) else ref


_ORDERS = {"asc": tpb.ORDER_ASC, "desc": tpb.ORDER_DESC}


def _window(order: str, before_id: int | None, since_ms: int | None) -> dict:
    if order not in _ORDERS:
        raise errors.InvalidArgument(f"order must be 'asc' or 'desc', not {order!r}")
    return dict(order=_ORDERS[order], before_id=before_id, since_create_time_ms=since_ms)


def _property(value: Any) -> Any:
    # Same rule as Store: structured values are stored as canonical JSON strings.
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


class RemoteStore(StoreAPI):
    """A store reached through ``mlstore serve`` (see the module docstring).

    Args:
        location: a parsed ``grpc://host:port`` location (or pass ``target``).
        token: bearer token; default ``$MLSTORE_TOKEN``.
        tls_ca: PEM file of the CA that signed the server's certificate (enables TLS);
            default ``$MLSTORE_TLS_CA``.
        timeout: per-call deadline in seconds.
    """

    def __init__(self, location: StoreLocation | str, token: str | None = None, tls_ca: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, read_roots: Sequence[str] | None = None):
        self._extra_roots = read_roots
        self.target = location.server if isinstance(location, StoreLocation) else location
        self._uri = f"grpc://{self.target}"
        self.timeout = timeout
        token = token if token is not None else os.environ.get("MLSTORE_TOKEN")
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.max_send_message_length", _MAX_MESSAGE)]
        tls_ca = tls_ca or os.environ.get("MLSTORE_TLS_CA")
        self._tls = bool(tls_ca)
        self._checked_scopes: set[str] = set()
        if tls_ca:
            with open(tls_ca, "rb") as fh:
                credentials = grpc.ssl_channel_credentials(root_certificates=fh.read())
            self.channel = grpc.secure_channel(self.target, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(self.target, options=options)
        self._lineage = lgrpc.LineageServiceStub(self.channel)
        self._artifacts = agrpc.ArtifactServiceStub(self.channel)
        self._models = mgrpc.ModelServiceStub(self.channel)
        self._gates = ggrpc.GateServiceStub(self.channel)
        self._ingest = igrpc.IngestServiceStub(self.channel)
        self._info = sgrpc.StoreServiceStub(self.channel)
        self._data = dgrpc.DataServiceStub(self.channel)
        self._admin = adgrpc.AdminServiceStub(self.channel)

    @property
    def uri(self) -> str:
        return self._uri

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request, timeout: float | None = None):
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise_for(e, self.target, tls=self._tls)

    # -- store info and bytes ----------------------------------------------------------------

    @cached_property
    def info(self) -> spb.GetStoreInfoResponse:
        """The server's GetStoreInfo answer (artifact root, versions, backend)."""
        return self._call(self._info.GetStoreInfo, spb.GetStoreInfoRequest())

    @cached_property
    def blobs(self) -> BlobStore:
        """The shared artifact root, accessed directly (bytes never go through gRPC).

        Publishing into it first asks the server whether this token may write
        (CheckAccess), so a read-only token never leaves bytes in the shared root.
        """
        return _ScopedBlobs(self.info.artifact_root, lambda: self.check_access("write"))

    @property
    def openlineage_namespace(self) -> str | None:
        """The served store's OpenLineage namespace (GetStoreInfo): what ``mlstore openlineage
        export --store`` and the server's live events name it; None from an older server."""
        return self.info.openlineage_namespace or None

    def check_access(self, scope: str) -> None:
        """Asks the server whether this token has ``scope`` (once per scope and client).

        Raises:
            PermissionDenied: it does not. Unauthenticated: no valid token.
        """
        if scope not in self._checked_scopes:
            self._call(self._info.CheckAccess, spb.CheckAccessRequest(scope=scope))
            self._checked_scopes.add(scope)

    def check_bytes(self, refs: Sequence[Any] = ()) -> BytesReport:
        """Re-hashes artifacts' bytes here, in the shared artifact root (all non-DELETED
        artifacts when ``refs`` is empty); another writer's bytes (TFX) against the
        server's fingerprint of them, reported as not hashed when there is none."""
        checked = [self._with_digest(a) for a in check_targets(self, refs)]
        hashed = [a for a in checked if a.digest]
        not_hashed = {a.node_id: "no digest in ML Metadata and no fingerprint on the server"
                      for a in checked if not a.digest}
        return BytesReport(len(hashed), not_hashed, verify_artifacts(self.blobs, hashed, self.read_roots))

    def _with_digest(self, artifact: Artifact) -> Artifact:
        """``artifact`` with the server's fingerprint as its digest when MLMD has none, so
        its files are checked like a blob's (unchanged when there is neither)."""
        if artifact.digest or not artifact.uri:
            return artifact
        fingerprint = self.content_digest(artifact)
        return artifact if fingerprint is None else dataclasses.replace(artifact, digest=fingerprint)

    @cached_property
    def read_roots(self) -> tuple[str, ...]:
        """Where external bytes are read: the shared artifact root, then ``read_roots`` given
        to the constructor, else ``$MLSTORE_READ_ROOTS`` and the server's own read roots."""
        if self._extra_roots is not None:
            return read_roots(self.blobs, self._extra_roots)
        return tuple(dict.fromkeys((*read_roots(self.blobs, None), *self.info.read_roots)))

    def content_digest(self, ref) -> str | None:
        """The digest of an artifact's bytes: MLMD's, or for bytes another writer (TFX)
        recorded, the fingerprint the server's index took (RPC GetContentDigest)."""
        artifact = ref if isinstance(ref, Artifact) else self.artifact(ref)
        if artifact.digest:
            return artifact.digest
        response = self._call(self._artifacts.GetContentDigest, apb.GetContentDigestRequest(ref=str(artifact.node_id)))
        return response.digest if response.HasField("digest") else None

    def local_path(self, ref) -> str:
        """A local path holding the artifact's verified bytes (downloaded first when remote);
        another writer's bytes are checked against the server's fingerprint of them.

        Raises:
            NotFound: the bytes are gone. IntegrityError: they differ from the digest or
                fingerprint. PermissionDenied: an external artifact outside the read roots.
        """
        artifact = ref if isinstance(ref, Artifact) else self.artifact(ref)
        return artifact_local_path(self.blobs, self._with_digest(artifact), self.read_roots)

    def reindex(self, force: bool = False) -> int:
        """Not through a server: FailedPrecondition (reindex runs against the database)."""
        raise errors.FailedPrecondition("reindex runs against the database, not through a server")

    def follow(self, interval_s: float = 2.0) -> None:
        """Nothing to start: the server follows other writers of its database itself."""
        return None

    def set_custom_properties(self, ref: Any, values: Mapping[str, str | int | None]) -> None:
        """Not through a server: pins go through RPC PinArtifact (:meth:`pin`)."""
        raise errors.Unimplemented("custom properties are written to the store's database; through a server use "
                                   "pin/unpin (admin scope) or run with --store DATABASE_URI")

    # -- write path ------------------------------------------------------------------------

    def log_execution(self, step: str, pipeline: str, *, inputs: Sequence[tuple[int, str]] = (),
                      outputs: Sequence[OutputArtifact] = (), properties: Mapping[str, Any] | None = None,
                      state: str = "COMPLETE", run_id: str | None = None,
                      reused_outputs: Sequence[tuple[int, str]] = ()) -> LoggedExecution:
        """Records one execution atomically through the server (see Store.log_execution).

        Raises:
            Unimplemented: ``reused_outputs`` (a cache hit): LogExecution has no field for them yet.
        """
        if reused_outputs:
            raise errors.Unimplemented("reused outputs (a cache hit) cannot be logged through a server yet: "
                                       "run the pipeline with --store DATABASE_URI")
        request = ipb.LogExecutionRequest(step=step, pipeline=pipeline, state=state, run_id=run_id,
                                          inputs=[ipb.InputArtifact(artifact_id=i, role=r) for i, r in inputs])
        convert.properties_to_pb(request.properties, {k: _property(v) for k, v in (properties or {}).items()})
        for o in outputs:
            message = request.outputs.add(type=o.type, uri=o.uri, digest=o.digest, size=o.size, role=o.role,
                                          name=o.name)
            convert.properties_to_pb(message.properties, o.properties)
        response = self._call(self._ingest.LogExecution, request)
        return LoggedExecution(response.execution_id, tuple(response.output_ids))

    # -- query path ------------------------------------------------------------------------

    def resolve(self, ref) -> NodeId:
        return NodeId.parse(self._call(self._artifacts.ResolveNode, apb.ResolveNodeRequest(ref=_ref(ref))).node_id)

    def artifact(self, ref) -> Artifact:
        response = self._call(self._artifacts.GetArtifact, apb.GetArtifactRequest(ref=_ref(ref)))
        return convert.artifact_from_pb(response.artifact)

    def execution(self, ref) -> Execution:
        response = self._call(self._artifacts.GetExecution, apb.GetExecutionRequest(ref=_ref(ref, "execution")))
        return convert.execution_from_pb(response.execution)

    def _pages(self, method, request_type, items: str, limit: int | None, **filters):
        found: list = []
        token, after_id = "", filters.pop("after_id")
        descending = filters["order"] == tpb.ORDER_DESC
        while limit is None or len(found) < limit:
            size = _PAGE if limit is None else min(_PAGE, limit - len(found))
            # Ascending pages resume through the token alone; descending ones keep after_id as the lower bound.
            response = self._call(method, request_type(page_size=size, page_token=token,
                                                       after_id=after_id if descending or not token else 0,
                                                       **filters))
            found += getattr(response, items)
            token = response.next_page_token
            if not token:
                break
        return found

    def artifacts(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                  after_id: int = 0, limit: int | None = None, order: str = "asc",
                  before_id: int | None = None, since_ms: int | None = None) -> list[Artifact]:
        """Artifacts in id order (``order="desc"``: newest first), filtered as in Store.artifacts."""
        found = self._pages(self._artifacts.ListArtifacts, apb.ListArtifactsRequest, "artifacts", limit,
                            **_window(order, before_id, since_ms), type=type, pipeline=pipeline, state=state,
                            after_id=after_id)
        return [convert.artifact_from_pb(a) for a in found]

    def executions(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                   after_id: int = 0, limit: int | None = None, order: str = "asc",
                   before_id: int | None = None, since_ms: int | None = None) -> list[Execution]:
        """Executions in id order (``order="desc"``: newest first), filtered as in Store.executions."""
        found = self._pages(self._artifacts.ListExecutions, apb.ListExecutionsRequest, "executions", limit,
                            **_window(order, before_id, since_ms), type=type, pipeline=pipeline, state=state,
                            after_id=after_id)
        return [convert.execution_from_pb(e) for e in found]

    def events(self, ref) -> list[EventRecord]:
        response = self._call(self._artifacts.ListEvents, apb.ListEventsRequest(ref=_ref(ref)))
        return [convert.event_from_pb(e) for e in response.events]

    def lineage(self, start, direction: str = "up", depth: int | None = None,
                types: Sequence[str] = ()) -> LineageGraph:
        """The lineage graph (see Store.lineage); streamed in pages when it is large."""
        refs = [_ref(r) for r in (start if isinstance(start, (list, tuple)) else [start])]
        if direction not in convert.DIRECTIONS:
            raise errors.InvalidArgument(f"direction must be up, down or both, not {direction!r}")
        fields = dict(start=refs, direction=convert.DIRECTIONS[direction], depth=depth, types=list(types))
        try:
            response = self._lineage.GetLineage(lpb.GetLineageRequest(**fields), timeout=self.timeout,
                                                metadata=self._metadata)
            return lineage_columns.graph_from_columns(response.start, direction, depth, [response.graph])
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise_for(e, self.target)
        return self._stream_lineage(fields, direction, depth)

    def _stream_lineage(self, fields: dict, direction: str, depth: int | None) -> LineageGraph:
        start, pages = [], []
        try:
            for response in self._lineage.StreamLineage(lpb.StreamLineageRequest(**fields), timeout=self.timeout,
                                                        metadata=self._metadata):
                start += response.start
                pages.append(response.page)
        except grpc.RpcError as e:
            raise_for(e, self.target, tls=self._tls)
        return lineage_columns.graph_from_columns(start, direction, depth, pages)

    def metric_series(self, pipeline: str, metric: str, slice: str = "Overall") -> list[MetricPoint]:
        response = self._call(self._models.GetMetricSeries,
                              mpb.GetMetricSeriesRequest(pipeline=pipeline, metric=metric, slice=slice))
        return [convert.metric_point_from_pb(p) for p in response.points]

    def evaluation_metrics(self, ref) -> dict[str, dict[str, float]]:
        response = self._call(self._models.GetEvaluationMetrics, mpb.GetEvaluationMetricsRequest(ref=_ref(ref)))
        # Rebuilt in the store's order (metric_order): callers such as the dashboard show dicts as they come.
        return {s.slice: {name: s.metrics[name] for name in s.metric_order or sorted(s.metrics)}
                for s in response.slices}

    def latest_blessed(self, pipeline: str) -> Artifact | None:
        response = self._call(self._models.GetLatestBlessed, mpb.GetLatestBlessedRequest(pipeline=pipeline))
        return convert.artifact_from_pb(response.model) if response.HasField("model") else None

    def daily_models(self, pipeline: str, *, newest: int | None = None) -> list[Artifact]:
        """See :meth:`mlstore.store.Store.daily_models` (RPC ListDailyModels)."""
        if newest is not None and (isinstance(newest, bool) or not isinstance(newest, int) or newest < 1):
            raise errors.InvalidArgument(f"newest must be an integer >= 1, not {newest!r}")
        response = self._call(self._models.ListDailyModels,
                               mpb.ListDailyModelsRequest(pipeline=pipeline, newest=newest))
        return [convert.artifact_from_pb(m) for m in response.models]

    def newest_daily_model(self, pipeline: str) -> Artifact | None:
        """The daily model of the newest span (RPC GetNewestDailyModel); None when none yet."""
        response = self._call(self._models.GetNewestDailyModel, mpb.GetNewestDailyModelRequest(pipeline=pipeline))
        return convert.artifact_from_pb(response.model) if response.HasField("model") else None

    def blessings(self, *, pipeline: str | None = None, model: Any = None) -> list[Blessing]:
        request = mpb.ListBlessingsRequest(pipeline=pipeline, model=_ref(model) if model is not None else None)
        return [convert.blessing_from_pb(b) for b in self._call(self._models.ListBlessings, request).blessings]

    def push(self, model: Any, to: str, name: str, *, force: bool = False,
             pipeline: str | None = None) -> "PushResult":
        """Pushes on the server (RPC PushModel): ``to`` is a path on the server, under one
        of its ``--push-root`` directories. See :meth:`mlstore.store.Store.push`."""
        from mlstore.server.push_messages import push_result_from_pb  # noqa: PLC0415

        request = mpb.PushModelRequest(model=_ref(model), base_dir=str(to), model_name=name, force=force,
                                       pipeline=pipeline)
        return push_result_from_pb(self._call(self._models.PushModel, request))

    def diff(self, a: Any, b: Any) -> "RunDiff":
        """What differs between two runs (RPC DiffRuns). See :meth:`mlstore.store.Store.diff`."""
        from mlstore.server.diff_messages import run_diff_from_pb  # noqa: PLC0415

        request = apb.DiffRunsRequest(a=_ref(a), b=_ref(b))
        return run_diff_from_pb(self._call(self._artifacts.DiffRuns, request))

    # -- administration (RPCs of AdminService, run on the server's store) ------------------

    def collect_garbage(self, policy: "RetentionPolicy", *, dry_run: bool = False,
                        progress: Callable[[str], None] | None = None, batch_size: int | None = None) -> "GcResult":
        """RPC CollectGarbage (admin scope): gc runs on the server (its own batch size),
        which answers with the whole plan; ``progress`` is not called (the RPC is unary).
        See :meth:`mlstore.store.Store.collect_garbage`."""
        from mlstore.server.admin_messages import gc_result_from_pb, policy_to_pb  # noqa: PLC0415

        request = adpb.CollectGarbageRequest(policy=policy_to_pb(policy), dry_run=dry_run)
        return gc_result_from_pb(self._call(self._admin.CollectGarbage, request, timeout=max(self.timeout, GC_TIMEOUT_S)))

    def pin(self, ref: Any, reason: str = "") -> "Pin":
        """RPC PinArtifact (admin scope). See :meth:`mlstore.store.Store.pin`."""
        from mlstore.server.admin_messages import pin_from_pb  # noqa: PLC0415

        return pin_from_pb(self._call(self._admin.PinArtifact, adpb.PinArtifactRequest(ref=_ref(ref), reason=reason)).pin)

    def unpin(self, ref: Any) -> bool:
        """RPC UnpinArtifact (admin scope). See :meth:`mlstore.store.Store.unpin`."""
        return self._call(self._admin.UnpinArtifact, adpb.UnpinArtifactRequest(ref=_ref(ref))).unpinned

    def pins(self) -> list["Pin"]:
        """RPC ListPins. See :meth:`mlstore.store.Store.pins`."""
        from mlstore.server.admin_messages import pin_from_pb  # noqa: PLC0415

        return [pin_from_pb(p) for p in self._call(self._admin.ListPins, adpb.ListPinsRequest()).pins]

    # -- data validation (RPCs of DataService, computed on the server) ---------------------

    def statistics_summary(self, ref: Any, split: str | None = None) -> dict[str, Any]:
        """RPC GetStatistics. See :meth:`mlstore.store.Store.statistics_summary`."""
        request = dpb.GetStatisticsRequest(ref=_ref(ref), split=split)
        return statistics_from_pb(self._call(self._data.GetStatistics, request))

    def statistics_drift(self, a: Any, b: Any, *, split: str | None = None, threshold: float | None = None,
                         schema: Any = None) -> dict[str, Any]:
        """RPC DiffStatistics. See :meth:`mlstore.store.Store.statistics_drift`."""
        request = dpb.DiffStatisticsRequest(a=_ref(a), b=_ref(b), split=split, threshold=threshold,
                                            schema=_ref(schema) if schema is not None else None)
        return drift_from_pb(self._call(self._data.DiffStatistics, request))

    def anomalies_summary(self, ref: Any) -> dict[str, Any]:
        """RPC GetAnomalies. See :meth:`mlstore.store.Store.anomalies_summary`."""
        return anomalies_from_pb(self._call(self._data.GetAnomalies, dpb.GetAnomaliesRequest(ref=_ref(ref))))

    def schema_summary(self, ref: Any) -> dict[str, Any]:
        """RPC GetSchema. See :meth:`mlstore.store.Store.schema_summary`."""
        return schema_from_pb(self._call(self._data.GetSchema, dpb.GetSchemaRequest(ref=_ref(ref))))

    def pipelines(self) -> list[str]:
        return list(self._call(self._models.ListPipelines, mpb.ListPipelinesRequest()).pipelines)

    # -- catalogue queries for browsing (the dashboard) ------------------------------------

    def newest_execution_id(self) -> int:
        """The id of the newest execution (0 for an empty store): a cheap store version."""
        return self._call(self._info.GetNewestExecutionId, spb.GetNewestExecutionIdRequest()).execution_id

    def index_revision(self) -> str | None:
        """The server's index schema revision (GetStoreInfo)."""
        return self.info.index_revision or None

    def artifact_named(self, type: str, name: str) -> Artifact | None:
        """The artifact of ``type`` named ``name`` in the server's index (None when there is none)."""
        return next((a for a in self.artifacts(type=type, order="desc") if a.name == name), None)

    def cached_execution_ids(self, cache_key: str) -> list[int]:
        """Not yet through a server (the pipeline cache): Unimplemented, naming the local command."""
        raise errors.Unimplemented("the pipeline cache is looked up in the store's database: the server has no "
                                   "call for it yet; run the pipeline with --store DATABASE_URI")

    def metric_names(self, pipeline: str) -> list[str]:
        """Sorted names of every metric evaluated in ``pipeline``."""
        return list(self._call(self._models.ListMetricNames,
                               mpb.ListMetricNamesRequest(pipeline=pipeline)).metric_names)

    def slices(self, pipeline: str, metric: str | None = None) -> list[str]:
        """Slice keys evaluated in ``pipeline`` (with ``metric``): "Overall" first, then sorted."""
        return list(self._call(self._models.ListSlices, mpb.ListSlicesRequest(pipeline=pipeline, metric=metric)).slices)

    # -- models and gates ------------------------------------------------------------------

    def requirement_of_model(self, ref, *, layer_patterns: tuple[str, ...] | None = None) -> ModelRequirement:
        """"Compatible with model ``ref``", checked by the server (see from_store.requirement_of_model)."""
        return ModelRequirement(_ref(ref), tuple(layer_patterns) if layer_patterns else None)

    def select_warm_start(self, pipeline: str, policy: str = "latest_blessed", *, metric: str | None = None,
                          slice: str = "Overall", as_of: int | None = None,
                          require_compatible: CompatibilityRequirement | ModelRequirement | None = None,
                          higher_is_better: bool | None = None, exclude: Sequence[int] = (),
                          explain: str = "ranked") -> Selection:
        """The server's warm-start choice: the same :class:`Selection` as
        :func:`mlstore.warmstart.from_store.select_warm_start` on the server's store.

        ``require_compatible`` may also be :meth:`requirement_of_model` (the server reads
        the reference model). Raises the same typed errors.
        """
        if as_of is not None and (isinstance(as_of, bool) or not isinstance(as_of, int)):
            raise errors.InvalidArgument(f"as_of must be a span YYYYMMDD such as 20130105, not {as_of!r}")
        request = mpb.SelectWarmStartRequest(
            pipeline=pipeline, policy=policy, metric=metric or "", slice=slice, higher_is_better=higher_is_better,
            as_of_span=as_of, exclude=list(exclude), explain=explain,
            require_compatible=requirement_to_pb(require_compatible) if require_compatible else None)
        return selection_from_pb(self._call(self._models.SelectWarmStart, request))

    def evaluate_gate(self, spec_yaml: str, candidate, baseline=None,
                      no_baseline: bool = False) -> gpb.EvaluateGateResponse:
        """Runs a gate spec on the server; ``response.report.passed`` is the verdict."""
        return self._call(self._gates.EvaluateGate, gpb.EvaluateGateRequest(
            spec_yaml=spec_yaml, candidate=_ref(candidate), no_baseline=no_baseline,
            baseline=_ref(baseline) if baseline is not None else None))


class _ScopedBlobs(BlobStore):
    """A BlobStore whose publish first checks, with the server, that the caller may write."""

    def __init__(self, root: str, check_write):
        super().__init__(root)
        self._check_write = check_write

    def publish(self, source):
        self._check_write()
        return super().publish(source)
