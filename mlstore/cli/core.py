"""Core commands: init, ls, show, lineage, verify, reindex, db upgrade."""

from __future__ import annotations

import datetime as dt
import json

import click
from rich.progress import Progress

from mlstore import errors, schema
from mlstore.cli._common import Context, copyable_table, fail_check, stderr, stdout, store_options
from mlstore.cli.lineage_text import lineage_lines
from mlstore.index import migrate


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _time_key(key: str) -> str:
    """``create_time_ms`` is shown as ``create_time`` (its value as an ISO time)."""
    return key[:-3] if key.endswith("_time_ms") else key


def _time_value(key: str, value):
    """Epoch-millisecond fields as ISO 8601 UTC times (``2013-01-02T10:00:00.123Z``); others unchanged."""
    if not key.endswith("_time_ms") or value in (None, ""):
        return value
    try:
        moment = dt.datetime.fromtimestamp(float(value) / 1000, dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return value
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seeds_value(properties) -> str:
    """The recorded seeds; when none were recorded, the seeds found in the params (older runs)."""
    recorded = properties.get("seeds") or "{}"
    if recorded.strip() not in ("{}", ""):
        return recorded
    from mlstore.pipeline.executor import seeds_in  # noqa: PLC0415

    try:
        params = json.loads(properties.get("params") or "{}")
    except ValueError:
        return recorded
    found = seeds_in(params) if isinstance(params, dict) else {}
    return json.dumps(found, sort_keys=True) + " (from params)" if found else recorded


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "-"


@click.command()
@store_options(create=True)
def init(ctx: Context) -> None:
    """Create (or open) a store and bring its index to the current schema."""
    store = ctx.store
    ctx.emit({"store": store.uri, "index_revision": migrate.head_revision()},
             f"store ready at {store.uri} (index schema {migrate.head_revision()})")


@click.command("ls")
@click.option("--type", "type_", default=None, help="Only this artifact type.")
@click.option("--pipeline", default=None, help="Only this pipeline.")
@click.option("--state", default=None, help="Only this state (LIVE, ABANDONED, DELETED...).")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many (newest last).")
@store_options
def ls(ctx: Context, type_, pipeline, state, limit) -> None:
    """List artifacts."""
    artifacts = ctx.store.artifacts(type=type_, pipeline=pipeline, state=state)
    if limit:
        artifacts = artifacts[-limit:]

    def table() -> None:
        rows = [(str(a.node_id), a.type, a.pipeline or "-", "-" if a.span is None else str(a.span),
                 a.state, _short(a.digest), str(a.size or 0), _when(a.create_time_ms)) for a in artifacts]
        stdout.print(copyable_table(("id", "type", "pipeline", "span", "state", "digest", "size", "created (UTC)"),
                                    rows, whole=("id", "type", "pipeline", "span", "state", "digest", "size"),
                                    optional=("created (UTC)", "size", "state")))

    ctx.emit([a.to_json() for a in artifacts], table)


@click.command()
@click.argument("ref")
@store_options
def show(ctx: Context, ref: str) -> None:
    """Show one artifact or execution (REF: artifact:N, execution:N or sha256:PREFIX)."""
    store = ctx.store
    node = store.resolve(ref)
    record = store.artifact(node) if node.kind == "artifact" else store.execution(node)
    events = store.events(node)
    payload = {**record.to_json(), "events": [
        {"execution": f"execution:{e.execution_id}", "artifact": f"artifact:{e.artifact_id}",
         "event_type": "OUTPUT" if e.is_output else "INPUT", "role": e.role} for e in events]}

    def text() -> None:
        for key, value in record.to_json().items():
            if key != "properties":
                stdout.print(f"[bold]{_time_key(key)}[/bold]: {_time_value(key, value)}")
        for key, value in sorted(record.properties.items()):
            value = _seeds_value(record.properties) if key == "seeds" else _time_value(key, value)
            shown = value if len(str(value)) < 200 else str(value)[:200] + "..."
            stdout.print(f"  {_time_key(key)}: {shown}", markup=False)
        for e in payload["events"]:
            stdout.print(f"  {e['event_type'].lower():6} {e['role']:16} {e['artifact'] if node.kind == 'execution' else e['execution']}")

    ctx.emit(payload, text)


@click.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--up", "direction", flag_value="up", default=True, help="What it was made from (default).")
@click.option("--down", "direction", flag_value="down", help="What was made from it.")
@click.option("--both", "direction", flag_value="both", help="Both directions.")
@click.option("--depth", type=int, default=None, help="Maximum hops (artifact->execution is one); default unlimited.")
@click.option("--type", "types", multiple=True, help="Keep only nodes of this type (repeatable).")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT.")
@store_options
def lineage(ctx: Context, refs, direction, depth, types, dot) -> None:
    """Print the lineage graph around one or more nodes, at any depth."""
    if depth is not None and depth < 0:
        raise click.BadParameter("must be >= 0", param_hint="--depth")
    graph = ctx.store.lineage(list(refs), direction=direction, depth=depth, types=types)
    if dot:
        click.echo(graph.to_dot(), nl=False)
        return

    def text() -> None:
        stdout.print(f"{len(graph.nodes)} nodes, {len(graph.edges)} edges ({direction}stream of "
                     f"{', '.join(str(s) for s in graph.start)}), by step:", markup=False)
        for line in lineage_lines(ctx.store, graph):
            stdout.print(line, markup=False)

    ctx.emit(graph.to_json(), text)


@click.command()
@click.argument("refs", nargs=-1)
@store_options
def verify(ctx: Context, refs) -> None:
    """Re-hash artifacts' bytes (all when no REF); exit 1 naming every corrupted one.

    mlstore's blobs are checked against their digest, bytes another writer (TFX)
    recorded against the fingerprint taken when they were indexed. Exit 1 too when
    nothing could be hashed.
    """
    store = ctx.store
    targets = [store.artifact(r) for r in refs] if refs else [
        a for a in store.artifacts() if a.state != "DELETED"]
    hashed, corrupted, not_hashed = 0, {}, {}
    with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
        task = progress.add_task("verifying", total=len(targets))
        for art in targets:
            report = store.check_bytes([art.node_id])
            hashed += report.hashed
            corrupted.update({str(k): v for k, v in report.corrupted.items()})
            not_hashed.update({str(k): v for k, v in report.not_hashed.items()})
            progress.advance(task)

    def text() -> None:
        for node, problems in corrupted.items():
            stdout.print(f"{node}: {'; '.join(problems)}", markup=False)
        for node, why in not_hashed.items():
            stdout.print(f"{node}: not hashed ({why})", markup=False)
        ok = hashed - len(corrupted)
        stdout.print(f"{hashed} artifacts hashed, {ok} verified, {len(corrupted)} corrupted; "
                     f"{len(not_hashed)} could not be hashed", markup=False)

    ctx.emit({"checked": len(targets), "hashed": hashed, "corrupted": corrupted, "not_hashed": not_hashed}, text)
    if corrupted:
        fail_check(f"{len(corrupted)} corrupted artifact(s): {', '.join(corrupted)}")
    if targets and not hashed:
        fail_check(f"nothing was hashed: none of the {len(targets)} artifact(s) has bytes mlstore can check")


@click.command()
@click.option("--force", is_flag=True,
              help="Rebuild even when ML Metadata is empty or another database than the index's.")
@store_options
def reindex(ctx: Context, force: bool) -> None:
    """Rebuild the index from ML Metadata (a corrupt index file is moved aside first)."""
    count = ctx.open_for_reindex().reindex(force=force)
    ctx.emit({"executions_indexed": count}, f"indexed {count} executions")


@click.group()
def db() -> None:
    """Index database schema."""


@db.command()
@click.option("--revision", default="head", help="Target revision (default: newest).")
@store_options
def upgrade(ctx: Context, revision: str) -> None:
    """Migrate the index tables to the newest schema."""
    from mlstore._uri import parse_store_uri  # noqa: PLC0415
    from mlstore.index.sync import index_engine  # noqa: PLC0415

    location = parse_store_uri(ctx.store_uri)
    if location.server:
        raise errors.InvalidArgument("db upgrade runs against the database, not through a server")
    if location.directory is not None:
        location.directory.mkdir(parents=True, exist_ok=True)
    engine = index_engine(location)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    ctx.emit({"from": before, "to": after}, f"index schema: {before or 'empty'} -> {after}")


@db.command()
@store_options
def current(ctx: Context) -> None:
    """Print the index schema revision."""
    from mlstore._uri import parse_store_uri  # noqa: PLC0415
    from mlstore.index.sync import index_engine  # noqa: PLC0415

    location = parse_store_uri(ctx.store_uri)
    # Through a server: the revision its index is at (GetStoreInfo); else read without opening
    # the store, which would bring the index to the newest schema first.
    rev = ctx.store.index_revision() if location.server else migrate.current_revision(index_engine(location))
    ctx.emit({"revision": rev, "head": migrate.head_revision()}, f"{rev} (newest: {migrate.head_revision()})")


@click.command("types")
@store_options
def types_(ctx: Context) -> None:
    """List the artifact types and their properties."""
    payload = {name: {"properties": d.all_properties(), "description": d.description}
               for name, d in schema.ARTIFACT_TYPES.items()}
    ctx.emit(payload, lambda: [stdout.print(f"[bold]{n}[/bold] {d['description']}") for n, d in payload.items()])


@db.command("tfx-types")
@click.option("--dry-run", is_flag=True, help="Say what would change, change nothing.")
@store_options
def tfx_types(ctx: Context, dry_run: bool) -> None:
    """Make MLMD types written by an earlier mlstore TFX's own (see mlstore/tfx/migrate.py).

    Moves mlstore's extra type properties of Model, ModelBlessing, Examples... to custom
    properties, in one transaction. Stop writers to the store first.
    """
    from mlstore._uri import parse_store_uri  # noqa: PLC0415
    from mlstore.index.sync import index_engine  # noqa: PLC0415
    from mlstore.tfx.migrate import mlmd_engine, rewrite_types  # noqa: PLC0415

    location = parse_store_uri(ctx.store_uri)
    if location.server:
        raise errors.InvalidArgument("db tfx-types runs against the database, not through a server")
    if location.mlmd_file is not None and not location.mlmd_file.is_file():
        raise errors.NotFound(f"no ML Metadata database at {location.mlmd_file}")
    rewrites = rewrite_types(mlmd_engine(location, index_engine(location)), dry_run=dry_run)
    verb = "would move" if dry_run else "moved"
    lines = [f"{r.type_name}: {verb} {', '.join(r.moved)} to custom properties on {r.artifacts} artifact(s)"
             for r in rewrites] or ["every TFX-named type already has TFX's exact properties"]
    ctx.emit({"dry_run": dry_run, "types": [r.__dict__ | {"moved": list(r.moved)} for r in rewrites]},
             "\n".join(lines))
