"""``mlstore serve --processes N``: N server processes sharing one port.

Why processes: every RPC is Python code, so one process serves at most one core
however many threads it has (the GIL); lineage encoding alone is tens of ms of CPU.
Each child is a complete, stateless server (its own Store, health service and
lineage cache) bound with ``SO_REUSEPORT`` (gRPC channel option ``grpc.so_reuseport``),
so the kernel spreads new connections over them. The parent only supervises:

* it reserves the port first (a bound, never-listening ``SO_REUSEPORT`` socket), so
  ``--port 0`` gives every child the same port;
* it reports "listening" once every child serves, and a child's start-up error as
  the same typed error (the CLI exits 2 with one line);
* it forwards SIGTERM/SIGINT to every child (each drains in-flight calls within its
  grace period) and, should a child die, stops the others and exits non-zero so a
  process manager can restart the whole server.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import queue
import signal
import socket
import threading
from typing import Callable

from mlstore import errors
from mlstore.server.app import ServeOptions, check_exposure, serve

log = logging.getLogger("mlstore.server")
_START_TIMEOUT_S = 120.0


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket holding ``host:port`` for the children.

    Raises:
        Unavailable: the address cannot be bound.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as e:
        raise errors.Unavailable(f"cannot bind {host}:{port}: {e.strerror or e}") from None
    return sock


def _child(options: ServeOptions, events: mp.Queue) -> None:
    """One server process: serves until SIGTERM; start-up errors go to the parent."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        serve(options, ready=lambda port: events.put(("ready", port, "")))
    except errors.MlstoreError as e:
        events.put(("error", type(e).__name__, str(e)))
        raise SystemExit(2) from None


def serve_processes(options: ServeOptions, processes: int, ready: Callable[[int], None] | None = None) -> None:
    """Runs ``processes`` servers on one port until SIGTERM/SIGINT (see the module docstring).

    Args:
        options: the options of every child (``reuse_port`` is set here).
        processes: number of server processes (>= 1).
        ready: called with the bound port once every child serves.

    Raises:
        MlstoreError: a child's start-up error (same class), or Unavailable when a child
            died or did not start in time.
    """
    check_exposure(options)
    holder = reserve_port(options.host, options.port)
    child_options = dataclasses.replace(options, port=holder.getsockname()[1], reuse_port=True)
    context = mp.get_context("spawn")  # no fork: gRPC's threads do not survive fork
    events = context.Queue()
    # One emitter per server: the first child sends OpenLineage events, the others only serve.
    serving_only = dataclasses.replace(child_options, openlineage=None)
    children = [context.Process(target=_child, args=(child_options if i == 0 else serving_only, events),
                                name=f"mlstore-serve-{i}")
                for i in range(processes)]
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.start()
        _wait_ready(children, events, stop)
        log.info("mlstore serving with %d processes on %s:%d", processes, options.host, child_options.port)
        if ready and not stop.is_set():
            ready(child_options.port)
        while not stop.wait(0.5):
            if any(not c.is_alive() for c in children):
                raise errors.Unavailable("a server process died; stopping the others (see the log above)")
    finally:
        _stop(children, options.grace_s)
        holder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_ready(children: list, events: mp.Queue, stop: threading.Event) -> None:
    ready = 0
    waited = 0.0
    while ready < len(children) and not stop.is_set():
        try:
            kind, first, message = events.get(timeout=0.5)
        except queue.Empty:
            waited += 0.5
            if waited > _START_TIMEOUT_S or any(c.exitcode not in (None, 0) for c in children):
                raise errors.Unavailable("a server process did not start (see the log above)") from None
            continue
        if kind == "error":
            error = getattr(errors, first, None)
            if not (isinstance(error, type) and issubclass(error, errors.MlstoreError)):
                error = errors.Unavailable
            raise error(message)
        ready += 1


def _stop(children: list, grace_s: float) -> None:
    """SIGTERM to every live child; SIGKILL to those still running after the grace period."""
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: the child's graceful shutdown
    for child in children:
        child.join(grace_s + 5)
        if child.is_alive():
            log.warning("server process %s did not stop in time; killing it", child.pid)
            child.kill()
            child.join()
