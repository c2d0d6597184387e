"""Read-only services: LineageService, ArtifactService, StoreService."""

from __future__ import annotations

import base64
import binascii
from typing import Iterator

import mlstore
from mlstore import errors
from mlstore.diff import diff_runs
from mlstore.server import convert, lineage_columns
from mlstore.server.diff_messages import run_diff_to_pb
from mlstore.server.auth import SCOPES, principal_of
from mlstore.server.backend import Backend, page_size
from mlstore.server.status import check_deadline, rpc, stream_rpc
from mlstore.v1 import artifact_service_pb2 as apb
from mlstore.v1 import artifact_service_pb2_grpc as agrpc
from mlstore.v1 import lineage_service_pb2 as lpb
from mlstore.v1 import lineage_service_pb2_grpc as lgrpc
from mlstore.v1 import store_service_pb2 as spb
from mlstore.v1 import store_service_pb2_grpc as sgrpc
from mlstore.v1 import types_pb2 as tpb

_TOKEN_PREFIX = "v1:"


def encode_page_token(after_id: int) -> str:
    """An opaque page token resuming after ``after_id``."""
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{after_id}".encode()).decode()


def decode_page_token(token: str) -> int:
    """The id a page token resumes after (0 for an empty token).

    Raises:
        InvalidArgument: the token was not made by this server.
    """
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        if text.startswith(_TOKEN_PREFIX) and text[len(_TOKEN_PREFIX):].isdigit():
            return int(text[len(_TOKEN_PREFIX):])
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise errors.InvalidArgument("malformed page_token: pass next_page_token of the previous page unchanged")


_ORDERS = {tpb.ORDER_UNSPECIFIED: "asc", tpb.ORDER_ASC: "asc", tpb.ORDER_DESC: "desc"}


def _listing(request) -> dict:
    """The Store.artifacts/executions arguments of a List request (filters, order, window).

    A page token resumes after the last id of the previous page: upwards in ascending
    order (as ``after_id``), downwards in descending order (as ``before_id``).

    Raises:
        InvalidArgument: unknown order, negative ids, page_token with after_id (ascending).
    """
    if request.order not in _ORDERS:
        raise errors.InvalidArgument(f"unknown order {request.order}; use ORDER_ASC or ORDER_DESC")
    order = _ORDERS[request.order]
    before = _opt(request, "before_id")
    if request.after_id < 0 or (before is not None and before < 0):
        raise errors.InvalidArgument("after_id and before_id must be >= 0")
    resume = decode_page_token(request.page_token)
    after = request.after_id
    if order == "asc" and request.page_token:
        if request.after_id:
            raise errors.InvalidArgument("pass page_token or after_id, not both")
        after = resume
    elif order == "desc" and request.page_token:
        before = resume if before is None else min(before, resume)
    return dict(type=_opt(request, "type"), pipeline=_opt(request, "pipeline"), state=_opt(request, "state"),
                order=order, after_id=after, before_id=before, since_ms=_opt(request, "since_create_time_ms"))


def _opt(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


def _depth(request) -> int | None:
    return request.depth if request.HasField("depth") else None


#: Start nodes one lineage call may name (a 20,000-node start set held the lineage slot for
#: half a minute).
MAX_START_NODES = 1000


#: Fewest wire bytes a lineage node and edge take in LineageColumns (kind, id, type,
#: state and depth codes of a node; direction, two ids and a role code of an edge).
MIN_NODE_BYTES, MIN_EDGE_BYTES = 5, 4


class LineageService(lgrpc.LineageServiceServicer):
    def __init__(self, backend: Backend, max_message_bytes: int | None = None):
        self.backend = backend
        self.store = backend.reader
        self.max_message_bytes = max_message_bytes

    def _check_size(self, what: str, size: int) -> None:
        """Refuses an answer over the message limit with what to do instead.

        Raises:
            ResourceExhausted: ``size`` bytes exceed the server's limit.
        """
        if self.max_message_bytes is not None and size > self.max_message_bytes:
            raise errors.ResourceExhausted(
                f"{what} is {size / 2**20:.1f} MiB, over the server's {self.max_message_bytes / 2**20:.0f} MiB "
                f"message limit: use StreamLineage (mlstore's clients page automatically), a smaller depth, "
                f"or fewer start nodes")

    def _encoded(self, request, context, encode):
        """Runs the query and ``encode(graph)`` in one of the slots for heavy queries.

        Raises:
            InvalidArgument: more than MAX_START_NODES start nodes (split the request).
        """
        if len(request.start) > MAX_START_NODES:
            raise errors.InvalidArgument(f"{len(request.start)} start nodes; at most {MAX_START_NODES} per call "
                                         f"(split the request)")
        with self.backend.heavy(timeout=context.time_remaining()):
            check_deadline(context, "waiting for a lineage slot")
            graph = self.store.lineage(list(request.start), direction=convert.direction_name(request.direction),
                                       depth=_depth(request), types=list(request.types))
            check_deadline(context, "building the lineage graph")
            return graph, encode(graph)

    # Both return wire bytes (see lineage_columns), sent as they are (see app.add_service).

    def _sized_columns(self, graph) -> bytes:
        # Why: the walk is cheap, the encoding of a huge graph is not; a lower bound from
        # the counts refuses before encoding, the exact length before sending.
        self._check_size("the lineage answer (at least)",
                         graph.node_count * MIN_NODE_BYTES + graph.edge_count * MIN_EDGE_BYTES)
        columns = lineage_columns.columns_bytes(graph)
        self._check_size("the lineage answer", len(columns))
        return columns

    @rpc
    def GetLineage(self, request, context) -> bytes:
        graph, columns = self._encoded(request, context, self._sized_columns)
        head = lpb.GetLineageResponse(start=[str(s) for s in graph.start], depth=graph.depth,
                                      direction=convert.DIRECTIONS[graph.direction])
        return head.SerializeToString() + lineage_columns.message_field(lpb.GetLineageResponse, "graph", columns)

    @stream_rpc
    def StreamLineage(self, request, context) -> Iterator[bytes]:
        size = page_size(request.page_size)
        graph, pages = self._encoded(request, context, lambda g: list(lineage_columns.page_bytes(g, size)))
        for i, page in enumerate(pages):
            check_deadline(context, f"streaming lineage page {i + 1} of {len(pages)}")
            head = lpb.StreamLineageResponse(start=[str(s) for s in graph.start] if i == 0 else [])
            yield head.SerializeToString() + lineage_columns.message_field(lpb.StreamLineageResponse, "page", page)


class ArtifactService(agrpc.ArtifactServiceServicer):
    def __init__(self, backend: Backend):
        self.store = backend.reader

    @rpc
    def ResolveNode(self, request, context):
        return apb.ResolveNodeResponse(node_id=str(self.store.resolve(request.ref)))

    @rpc
    def GetArtifact(self, request, context):
        return apb.GetArtifactResponse(artifact=convert.artifact_to_pb(self.store.artifact(request.ref)))

    @rpc
    def ListArtifacts(self, request, context):
        size = page_size(request.page_size)
        found = self.store.artifacts(**_listing(request), limit=size + 1)
        token = encode_page_token(found[size - 1].id) if len(found) > size else ""
        return apb.ListArtifactsResponse(artifacts=[convert.artifact_to_pb(a) for a in found[:size]],
                                         next_page_token=token)

    @rpc
    def GetExecution(self, request, context):
        return apb.GetExecutionResponse(execution=convert.execution_to_pb(self.store.execution(request.ref)))

    @rpc
    def ListExecutions(self, request, context):
        size = page_size(request.page_size)
        found = self.store.executions(**_listing(request), limit=size + 1)
        token = encode_page_token(found[size - 1].id) if len(found) > size else ""
        return apb.ListExecutionsResponse(executions=[convert.execution_to_pb(e) for e in found[:size]],
                                          next_page_token=token)

    @rpc
    def ListEvents(self, request, context):
        return apb.ListEventsResponse(events=[convert.event_to_pb(e) for e in self.store.events(request.ref)])

    @rpc
    def DiffRuns(self, request, context):
        return run_diff_to_pb(diff_runs(self.store, request.a, request.b))

    @rpc
    def GetContentDigest(self, request, context):
        return apb.GetContentDigestResponse(digest=self.store.content_digest(request.ref))


class StoreService(sgrpc.StoreServiceServicer):
    def __init__(self, backend: Backend, max_message_bytes: int, tokens=None):
        self.backend = backend
        self.max_message_bytes = max_message_bytes
        self.tokens = tokens

    @rpc
    def CheckAccess(self, request, context):
        if request.scope not in SCOPES:
            raise errors.InvalidArgument(f"scope must be one of {list(SCOPES)}, not {request.scope[:40]!r}")
        principal = principal_of(self.tokens, context.invocation_metadata())
        if request.scope not in principal.scopes:
            raise errors.PermissionDenied(f"token {principal.name!r} lacks the {request.scope!r} scope")
        return spb.CheckAccessResponse(principal=principal.name, scopes=sorted(principal.scopes))

    @rpc
    def GetStoreInfo(self, request, context):
        from mlstore.openlineage.events import store_namespace  # noqa: PLC0415 - the OpenLineage client, on use

        store = self.backend.reader
        return spb.GetStoreInfoResponse(
            artifact_root=store.location.artifact_root, server_version=mlstore.__version__, api_version="v1",
            index_revision=store.index_revision() or "", backend=self.backend.backend_name,
            max_message_bytes=self.max_message_bytes, read_roots=list(store.read_roots[1:]),
            openlineage_namespace=store_namespace(store))

    @rpc
    def GetNewestExecutionId(self, request, context):
        return spb.GetNewestExecutionIdResponse(execution_id=self.backend.reader.newest_execution_id())
