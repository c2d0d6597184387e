"""Builds and runs the gRPC server: services, health, reflection, auth, TLS, shutdown.

Message size limits: requests and responses are capped at ``max_message_mb`` (default
64 MiB) in both directions; a larger request gets RESOURCE_EXHAUSTED. Lineage graphs
that do not fit one response are fetched with StreamLineage (pages of nodes/edges).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mlstore import errors
from mlstore.server.admin_service import AdminService
from mlstore.server.auth import AuthInterceptor, TokenTable
from mlstore.server.backend import Backend
from mlstore.server.data_service import DataService
from mlstore.server.ingest_service import IngestService
from mlstore.server.model_services import GateService, ModelService
from mlstore.server.query_services import ArtifactService, LineageService, StoreService
from mlstore.server.status import lenient

if TYPE_CHECKING:
    from mlstore.openlineage.emitter import EmitterOptions
from mlstore.v1 import (admin_service_pb2, artifact_service_pb2, data_service_pb2, gate_service_pb2, ingest_service_pb2,
                        lineage_service_pb2, model_service_pb2, store_service_pb2)

log = logging.getLogger("mlstore.server")



def _as_bytes(response) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def add_service(module, name: str, servicer, server: grpc.Server) -> None:
    """Registers a service like the generated ``add_*Servicer_to_server``, except that

    * requests are parsed by :func:`~mlstore.server.status.lenient` (garbage bytes are
      answered INVALID_ARGUMENT by the servicer's error mapping, not INTERNAL), and
    * responses the servicer already encoded (wire bytes: a 60,000-node lineage graph is
      ~1 MB) go out as they are.
    """
    service = module.DESCRIPTOR.services_by_name[name]
    handlers = {}
    for method in service.methods:
        request_class = getattr(module, method.input_type.name, None) or _message_class(method.input_type)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(getattr(servicer, method.name), request_deserializer=lenient(request_class),
                                     response_serializer=_as_bytes)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


def _message_class(descriptor):
    from google.protobuf import message_factory  # noqa: PLC0415

    return message_factory.GetMessageClass(descriptor)


_SERVICES = (
    (lineage_service_pb2, "LineageService"),
    (artifact_service_pb2, "ArtifactService"),
    (model_service_pb2, "ModelService"),
    (gate_service_pb2, "GateService"),
    (ingest_service_pb2, "IngestService"),
    (store_service_pb2, "StoreService"),
    (data_service_pb2, "DataService"),
    (admin_service_pb2, "AdminService"),
)


@dataclass(frozen=True)
class ServeOptions:
    """How ``mlstore serve`` runs (see ``mlstore serve --help``)."""

    store_uri: str | None
    host: str = "127.0.0.1"
    port: int = 50051
    tokens: TokenTable | None = None
    insecure_open: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message_mb: int = 64
    workers: int = 64
    writers: int = 4
    lineage_slots: int = 1
    grace_s: float = 10.0
    reuse_port: bool = False  # share the port with sibling processes (see mlstore.server.processes)
    push_roots: tuple[Path, ...] = ()  # PushModel writes only under these directories
    openlineage: "EmitterOptions | None" = None  # emit OpenLineage run events as executions are written

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(options: ServeOptions) -> None:
    """Refuses to serve without tokens on a non-loopback address unless --insecure-open.

    Raises:
        InvalidArgument: unsafe combination of options.
    """
    if (options.tls_cert is None) != (options.tls_key is None):
        raise errors.InvalidArgument("--tls-cert and --tls-key go together")
    if not options.tokens and not is_loopback(options.host) and not options.insecure_open:
        raise errors.InvalidArgument(
            f"refusing to serve {options.host} without tokens: pass --tokens FILE (or set "
            "MLSTORE_SERVER_TOKENS), bind to 127.0.0.1, or pass --insecure-open")
    if not 1 <= options.max_message_mb <= 2047:
        raise errors.InvalidArgument("--max-message-mb must be between 1 and 2047")


def heavy_waiting(options: ServeOptions) -> int:
    """How many lineage calls may wait for a slot: the RPC threads minus a quarter (at
    least two) kept for cheap calls, which would otherwise queue behind them."""
    return max(1, options.workers - max(2, options.workers // 4) - options.lineage_slots)


def build_server(backend: Backend, options: ServeOptions) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Creates the server with every service registered and binds its port.

    Returns:
        ``(server, bound port, health servicer)``; the server is not started yet.
    """
    interceptors = [AuthInterceptor(options.tokens)] if options.tokens else []
    limit = options.max_message_bytes
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="mlstore-rpc"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
                 ("grpc.so_reuseport", int(options.reuse_port))],
        maximum_concurrent_rpcs=options.workers * 8,
    )
    servicers = (LineageService(backend, limit), ArtifactService(backend), ModelService(backend, options.push_roots),
                 GateService(backend), IngestService(backend), StoreService(backend, limit, options.tokens),
                 DataService(backend), AdminService(backend))
    names = []
    for (module, name), servicer in zip(_SERVICES, servicers):
        add_service(module, name, servicer, server)
        names.append(module.DESCRIPTOR.services_by_name[name].full_name)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in names + [""]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(names + [health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{options.host}:{options.port}"
    if options.tls_cert:
        credentials = grpc.ssl_server_credentials([(options.tls_key.read_bytes(), options.tls_cert.read_bytes())])
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise errors.Unavailable(f"cannot bind {address}: the port is in use or the address is not local")
    return server, port, health_servicer


def _start_emitter(backend: Backend, options: ServeOptions):
    """The OpenLineage emitter thread over the server's store (None without --openlineage-url).

    It reads the index through the shared reader (SQLAlchemy's engine is thread-safe)
    and never runs in an RPC thread: a slow or dead endpoint delays only the events.
    """
    if options.openlineage is None:
        return None
    from mlstore.openlineage.emitter import Emitter  # noqa: PLC0415 - loads the client only when asked

    emitter = Emitter(backend.reader, options.openlineage)
    log.info("emitting OpenLineage events to %s in namespace %s", options.openlineage.url, emitter.namespace)
    return emitter


def serve(options: ServeOptions, ready: callable = None) -> None:
    """Runs the server until SIGTERM/SIGINT, then shuts down gracefully.

    On a signal: health turns NOT_SERVING, new calls are refused, in-flight calls get
    ``grace_s`` seconds to finish.

    Args:
        options: see :class:`ServeOptions`.
        ready: called with the bound port once the server accepts calls.
    """
    check_exposure(options)
    backend = Backend(options.store_uri, writers=options.writers, heavy_slots=options.lineage_slots,
                      heavy_waiting=heavy_waiting(options))
    server, port, health_servicer = build_server(backend, options)
    emitter = _start_emitter(backend, options)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    log.info("mlstore serving a %s store on %s:%d", backend.backend_name, options.host, port)
    if ready:
        ready(port)
    try:
        # Poll: a signal delivered to one of gRPC's threads does not interrupt a bare wait()
        # in the main thread, so the handler would only run at the next wake-up.
        while not stop.wait(0.5):
            pass
    finally:
        health_servicer.enter_graceful_shutdown()
        server.stop(options.grace_s).wait()
        if emitter is not None:
            emitter.stop()
        backend.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("mlstore server stopped")
