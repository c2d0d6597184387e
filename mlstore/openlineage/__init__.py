"""Lineage out of mlstore in OpenLineage, the format Marquez, DataHub, Airflow, Spark and dbt speak.

>>> from mlstore import openlineage
>>> events = openlineage.run_events(store, pipeline="flights")       # client RunEvent objects
>>> openlineage.export(store, url="http://localhost:5000")          # Marquez's lineage endpoint
>>> openlineage.export(store, out="lineage.jsonl", since_ms=...)   # one JSON event per line

Every execution becomes a START and a COMPLETE / FAIL run event (see
:mod:`mlstore.openlineage.events` for the mapping, :mod:`mlstore.openlineage.facets`
for mlstore's ML facets). Events are built, all of them, before the first is sent.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde

from mlstore import errors
from mlstore.openlineage.events import EventBuilder, store_namespace

__all__ = ["ExportResult", "export", "http_transport", "run_events", "store_namespace", "to_json"]


def run_events(store, *, pipeline: str | None = None, since_ms: int | None = None,
               namespace: str | None = None) -> list[RunEvent]:
    """The OpenLineage RunEvents of a store's executions, in execution id order.

    Args:
        store: a store (local, or through a server).
        pipeline: only this pipeline's executions.
        since_ms: only executions created at or after this epoch millisecond.
        namespace: the jobs' and datasets' namespace (default :func:`store_namespace`).

    Raises:
        NotFound: ``pipeline`` has nothing recorded.
    """
    if pipeline is not None and pipeline not in store.pipelines():
        raise errors.NotFound(f"no pipeline {pipeline!r} in {store.uri}; `mlstore ls` lists what is recorded")
    executions = store.executions(pipeline=pipeline, since_ms=since_ms)
    return list(EventBuilder(store, namespace).events(executions))


def to_json(event: RunEvent) -> str:
    """One event as the JSON the client's transports send (sorted keys, no nulls)."""
    return Serde.to_json(event)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` sent: how many events of how many executions, where to."""

    events: int
    executions: int
    destination: str
    namespace: str

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "executions": self.executions, "destination": self.destination,
                "namespace": self.namespace}


def export(store, *, out: str | os.PathLike | None = None, url: str | None = None, endpoint: str = "api/v1/lineage",
           api_key: str | None = None, pipeline: str | None = None, since_ms: int | None = None,
           namespace: str | None = None, timeout_s: float = 10.0) -> ExportResult:
    """Sends a store's run events through an OpenLineage transport: a file or an HTTP endpoint.

    Args:
        out: a JSON Lines file (the client's FileTransport, appending to a staged copy
            renamed into place: the file is whole or absent), or ``-`` for stdout.
        url: an OpenLineage HTTP endpoint's base URL (the client's HttpTransport posts
            each event to ``url/endpoint``; Marquez: ``http://HOST:5000``; DataHub: its GMS,
            ``http://GMS:8080`` with endpoint ``openapi/openlineage/api/v1/lineage``).
        api_key: a bearer token for ``url``.
        pipeline, since_ms, namespace: as :func:`run_events`.

    Raises:
        InvalidArgument: neither or both of ``out`` and ``url``, a bad URL.
        NotFound: ``pipeline`` has nothing recorded.
        Unavailable: the endpoint refused or could not be reached (says how many were sent).
    """
    if (out is None) == (url is None):
        raise errors.InvalidArgument("export needs exactly one destination: out=FILE or url=http://HOST:PORT")
    # The destination is checked before any event is built; nothing is sent or written for bad input.
    transport = http_transport(url, endpoint, api_key, timeout_s) if url is not None else None
    path = None if url is not None or str(out) == "-" else _check_file(Path(out))
    events = run_events(store, pipeline=pipeline, since_ms=since_ms, namespace=namespace)
    namespace = namespace or store_namespace(store)
    executions = len({e.run.runId for e in events})
    if transport is not None:
        _post(events, transport, url)
        destination = url.rstrip("/") + "/" + endpoint.lstrip("/")
    elif path is None:
        for event in events:
            sys.stdout.write(to_json(event) + "\n")
        sys.stdout.flush()
        destination = "stdout"
    else:
        _write(events, path)
        destination = str(path)
    return ExportResult(len(events), executions, destination, namespace)


def http_transport(url: str, endpoint: str = "api/v1/lineage", api_key: str | None = None, timeout_s: float = 10.0,
                   retry: dict[str, Any] | None = None):
    """The client's HttpTransport for ``url`` (InvalidArgument for a URL it refuses).

    ``retry``: urllib3 ``Retry`` settings over the client's defaults (5 tries, 0.3 s backoff).
    """
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider  # noqa: PLC0415
    from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG  # noqa: PLC0415

    auth = ApiKeyTokenProvider({"api_key": api_key}) if api_key else TokenProvider({})
    if not url.lower().startswith(("http://", "https://")):
        raise errors.InvalidArgument(f"bad OpenLineage URL {url!r}: expected http(s)://HOST:PORT")
    try:
        return HttpTransport(HttpConfig(url=url, endpoint=endpoint, timeout=timeout_s, auth=auth,
                                        retry={**DEFAULT_RETRY_CONFIG, **(retry or {})}))
    except ValueError as e:
        raise errors.InvalidArgument(f"bad OpenLineage URL {url!r}: expected http(s)://HOST:PORT") from e


def _check_file(path: Path) -> Path:
    if path.is_dir():
        raise errors.InvalidArgument(f"{path} is a directory: name the JSON Lines file to write")
    if not path.parent.is_dir():
        raise errors.InvalidArgument(f"no directory {path.parent} to write {path.name} in")
    return path


def _post(events: list[RunEvent], transport, url: str) -> None:
    from requests import RequestException  # noqa: PLC0415

    sent = 0
    try:
        for event in events:
            transport.emit(event)
            sent += 1
    except RequestException as e:
        raise errors.Unavailable(f"OpenLineage endpoint {url} failed after {sent} of {len(events)} events: "
                                 f"{type(e).__name__}: {e}") from e
    finally:
        transport.close()


def _write(events: list[RunEvent], path: Path) -> None:
    from openlineage.client.transport.file import FileConfig, FileTransport  # noqa: PLC0415

    handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".staged", dir=path.parent)
    os.close(handle)
    try:
        transport = FileTransport(FileConfig(log_file_path=staged, append=True))
        for event in events:
            transport.emit(event)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
