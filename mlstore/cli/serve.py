"""``mlstore serve``: run the gRPC API over a store."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

import click

from mlstore import errors
from mlstore.cli._common import stderr


def _check_port_free(host: str, port: int) -> None:
    """Fails (exit 2, one line) when something already listens on host:port, before gRPC
    tries to bind and logs its own C++ error."""
    if port == 0:
        return
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is no conflict
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise errors.InvalidArgument(f"port {port} on {host} is already in use: stop what listens there "
                                             "or pick another --port") from None
            raise errors.InvalidArgument(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command()
@click.option("--store", "store_uri", envvar="MLSTORE_URI", default=None, metavar="URI",
              help="Store to serve (directory, mysql://, postgresql://). Default $MLSTORE_URI or ./.mlstore.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=50051, show_default=True,
              help="Port (0 = any free port; the chosen one is printed).")
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False), default=None,
              help="YAML token table (token -> name, scopes). Default $MLSTORE_SERVER_TOKENS.")
@click.option("--insecure-open", is_flag=True, help="Serve without tokens on a non-loopback address.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM certificate chain: serve TLS (with --tls-key). Clients set MLSTORE_TLS_CA.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--max-message-mb", type=int, default=64, show_default=True,
              help="Largest request/response in MiB (larger requests get RESOURCE_EXHAUSTED).")
@click.option("--workers", type=click.IntRange(1, 512), default=64, show_default=True,
              help="RPC threads (calls waiting for a lineage slot hold one, so keep it well above --lineage-slots).")
@click.option("--writers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Concurrent write connections (1 on SQLite).")
@click.option("--lineage-slots", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Lineage queries computed at once (each is CPU-bound Python; more starve cheap calls).")
@click.option("--processes", type=click.IntRange(1, 256), default=None,
              help="Server processes sharing the port (SO_REUSEPORT), each with its own store connection "
                   "and threads. Default: the number of CPUs.")
@click.option("--push-root", "push_roots", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory under which PushModel may write TF Serving versions (repeatable). "
                   "Default: none, pushes are refused.")
@click.option("--grace", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Seconds in-flight calls get to finish on SIGTERM.")
@click.option("--openlineage-url", envvar="MLSTORE_OPENLINEAGE_URL", default=None, metavar="URL",
              help="Send OpenLineage run events of every execution written from now on (by any writer) to "
                   "URL/ENDPOINT (Marquez: http://HOST:5000). Default $MLSTORE_OPENLINEAGE_URL; none: no events.")
@click.option("--openlineage-endpoint", envvar="MLSTORE_OPENLINEAGE_ENDPOINT", default="api/v1/lineage",
              show_default=True, help="The endpoint under --openlineage-url (DataHub: openapi/openlineage/api/v1/lineage).")
@click.option("--openlineage-namespace", envvar="MLSTORE_OPENLINEAGE_NAMESPACE", default=None,
              help="Namespace of jobs and datasets (default: the store's, as `mlstore openlineage export` names it).")
@click.option("--openlineage-interval", type=click.FloatRange(0.05), default=2.0, show_default=True,
              help="Seconds between looks for new executions.")
def serve(store_uri, host, port, tokens_file, insecure_open, tls_cert, tls_key, max_message_mb, workers,
          writers, lineage_slots, processes, push_roots, grace, openlineage_url, openlineage_endpoint,
          openlineage_namespace, openlineage_interval) -> None:
    """Serve the store over gRPC (health checking, reflection, bearer-token auth).

    Without tokens the server only binds a loopback address (or needs --insecure-open).
    With several --processes, SIGTERM goes to each, and each answers health checks
    for itself.

    With --openlineage-url, every execution recorded after the first start for that
    endpoint (through the server, by SDK processes on the same store, or by TFX) is sent
    as OpenLineage START and COMPLETE/FAIL events, at least once, in id order; what the
    endpoint acknowledged is recorded in the store, so a restart does not send it again.
    A dead endpoint never fails an RPC: one warning, then retries with backoff. The
    bearer token comes from $OPENLINEAGE_API_KEY.
    """
    from mlstore.server import ServeOptions  # noqa: PLC0415 - keeps `mlstore --help` fast
    from mlstore.server import serve as run_server  # noqa: PLC0415
    from mlstore.server.auth import load_tokens  # noqa: PLC0415
    from mlstore.server.processes import serve_processes  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _check_port_free(host, port)
    tokens = load_tokens(tokens_file)
    openlineage = None
    if openlineage_url:
        from mlstore.openlineage.emitter import EmitterOptions  # noqa: PLC0415

        openlineage = EmitterOptions(url=openlineage_url, endpoint=openlineage_endpoint,
                                     namespace=openlineage_namespace, api_key=os.environ.get("OPENLINEAGE_API_KEY"),
                                     interval_s=openlineage_interval)
        openlineage.check()  # a bad URL is exit 2 before anything listens
    options = ServeOptions(store_uri=store_uri, host=host, port=port, tokens=tokens, insecure_open=insecure_open,
                           tls_cert=tls_cert, tls_key=tls_key, max_message_mb=max_message_mb, workers=workers,
                           writers=writers, lineage_slots=lineage_slots, grace_s=grace,
                           push_roots=tuple(push_roots), openlineage=openlineage)

    def ready(bound: int) -> None:
        auth = f"{len(tokens)} token(s)" if tokens else "no auth (open)"
        stderr.print(f"mlstore serving on {host}:{bound} ({auth}{', TLS' if tls_cert else ''}, "
                     f"{processes} process{'es' if processes > 1 else ''})", markup=False)
        click.echo(f"listening on {host}:{bound}", err=False)

    processes = processes or os.cpu_count() or 1
    if processes == 1:
        run_server(options, ready=ready)
    else:
        serve_processes(options, processes, ready=ready)
