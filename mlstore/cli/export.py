"""``mlstore openlineage export``: the store's lineage as OpenLineage run events, to a file or an endpoint.

``mlstore export openlineage`` is the same command (its first name). Live events as
executions are written: ``mlstore serve --openlineage-url``.
"""

from __future__ import annotations

import datetime as dt

import click

from mlstore import errors
from mlstore._uri import parse_store_uri
from mlstore.cli._common import Context, store_options


def parse_since(text: str | None) -> int | None:
    """``--since`` (an ISO date or date-time; UTC unless it names a zone) as epoch milliseconds."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.InvalidArgument(f"bad --since {text!r}: expected an ISO date or time, e.g. 2026-12-01 "
                                     "or 2026-12-01T08:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


@click.group("openlineage")
def openlineage_group() -> None:
    """Lineage in OpenLineage (Marquez, DataHub): export history; `serve --openlineage-url` emits live."""


@click.group("export")
def export_group() -> None:
    """Export the store's lineage in other systems' formats (`export openlineage` = `openlineage export`)."""


@openlineage_group.command("export")
@click.option("--pipeline", default=None, help="Only this pipeline's executions.")
@click.option("--since", default=None, metavar="WHEN",
              help="Only executions created at or after WHEN (ISO date or time, UTC by default).")
@click.option("--out", "out", default=None, metavar="FILE",
              help="Write JSON Lines (one event per line) to FILE, whole or not at all; - for stdout.")
@click.option("--url", default=None, metavar="URL",
              help="POST each event to URL/ENDPOINT (Marquez: http://HOST:5000; DataHub: http://GMS:8080).")
@click.option("--endpoint", default="api/v1/lineage", show_default=True,
              help="The endpoint under --url (DataHub: openapi/openlineage/api/v1/lineage).")
@click.option("--api-key", envvar="OPENLINEAGE_API_KEY", default=None,
              help="Bearer token for --url (default $OPENLINEAGE_API_KEY).")
@click.option("--namespace", default=None,
              help="Namespace of jobs and datasets (default: mlstore://HOST/PATH of the store).")
@store_options
def openlineage_export(ctx: Context, pipeline, since, out, url, endpoint, api_key, namespace) -> None:
    """Every execution as OpenLineage RunEvents: START, then COMPLETE or FAIL, with its
    input and output artifacts as datasets (content digest as version) and mlstore's ML
    facets (metrics per slice, gate decision, warm-start base, model digests, span).

    Without --out or --url the events go to stdout, one per line. All events are built
    before the first is sent; an endpoint that fails stops the export (exit 2, saying
    how many were sent).
    """
    from mlstore import openlineage as ol  # noqa: PLC0415 - the client loads only for this command

    if out is not None and url is not None:
        raise errors.InvalidArgument("give --out FILE or --url URL, not both")
    since_ms = parse_since(since)
    if namespace is None and parse_store_uri(ctx.store_uri).server is not None:
        # The served store's own namespace, so the run ids equal those of an export with
        # --store and of the server's live events (not the client's view, grpc://HOST:PORT).
        namespace = ctx.store.openlineage_namespace
    result = ol.export(ctx.store, out="-" if out is None and url is None else out, url=url, endpoint=endpoint,
                       api_key=api_key, pipeline=pipeline, since_ms=since_ms, namespace=namespace)
    if result.destination == "stdout":
        return  # stdout holds the events themselves
    ctx.emit(result.to_json(), f"exported {result.events} OpenLineage events ({result.executions} executions) "
                               f"to {result.destination} in namespace {result.namespace}")


export_group.add_command(openlineage_export, "openlineage")
