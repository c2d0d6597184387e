"""``mlstore hub``: publish, search, show modules and list the models that consume them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markdown import Markdown

from mlstore import errors, hub
from mlstore.cli._common import Context, copyable_table, stdout, store_options
from mlstore.hub import registry


@click.group("hub")
def hub_group() -> None:
    """Module registry: immutable publisher/name/version modules (TF Hub style)."""


@hub_group.command("publish")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--handle", required=True, metavar="PUBLISHER/NAME[/VERSION]", help="Module handle.")
@click.option("--description", "description_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Markdown file with the module's documentation.")
@click.option("--tag", "tags", multiple=True, help="Search tag (repeatable).")
@click.option("--license", "license_", default="", help="License name or SPDX id.")
@click.option("--source", default=None, metavar="REF", help="Model artifact it came from (default: found by digest).")
@store_options(create=True)
def publish(ctx: Context, path: Path, handle: str, description_file, tags, license_, source) -> None:
    """Publish the SavedModel at PATH as the next (or given) version of a module."""
    hub.Handle.parse(handle)  # reject a bad handle before opening the store
    description = _read_description(description_file)
    module = hub.publish(path, handle, description=description, tags=tags, license=license_,
                         source=source, store=ctx.store)
    ctx.emit(module.to_json(), f"published {module.handle} ({module.artifact}, {module.digest[:19]})")


@hub_group.command("search")
@click.argument("text", default="")
@click.option("--tag", "tags", multiple=True, help="Only modules with this tag (repeatable).")
@store_options
def search(ctx: Context, text: str, tags) -> None:
    """Modules whose handle, description or tags contain TEXT (newest version of each)."""
    modules = hub.search(text, tags=tags, store=ctx.store)

    def table() -> None:
        rows = []
        for m in modules:
            first_line = next((ln.strip("# ") for ln in m.description.splitlines() if ln.strip()), "")
            rows.append((m.handle, ", ".join(m.tags), "yes" if m.trainable else "no", first_line[:60]))
        stdout.print(copyable_table(("handle", "tags", "trainable", "description"), rows, whole=("handle",)))

    ctx.emit([m.to_json() for m in modules], table)


@hub_group.command("show")
@click.argument("handle")
@store_options
def show(ctx: Context, handle: str) -> None:
    """Documentation, signatures, versions and consumers of a module version (newest if unpinned)."""
    h = hub.Handle.parse(handle)
    module = hub.show(h, store=ctx.store)
    all_versions = [int(a.properties["version"]) for a in registry.versions(ctx.store, h)]
    models = hub.consumers(module.handle, store=ctx.store)
    payload = {**module.to_json(), "versions": all_versions, "consumers": [m.to_json() for m in models]}

    def text() -> None:
        stdout.print(f"[bold]{module.handle}[/bold]  {module.artifact}  {module.digest[:19]}")
        stdout.print(f"versions: {', '.join(map(str, all_versions))}   license: {module.license or '-'}   "
                     f"trainable: {'yes' if module.trainable else 'no'}   tags: {', '.join(module.tags) or '-'}")
        if module.source_model:
            stdout.print(f"published from {module.source_model} (made by {module.source_execution or '?'})")
        for name, sig in module.signatures.items():
            stdout.print(f"signature {name}: {_fmt(sig['inputs'])} -> {_fmt(sig['outputs'])}", markup=False)
        if module.description:
            stdout.print(Markdown(module.description))
        stdout.print(f"consumers: {', '.join(str(m.node_id) for m in models) or 'none'}")

    ctx.emit(payload, text)


@hub_group.command("consumers")
@click.argument("handle")
@store_options
def consumers(ctx: Context, handle: str) -> None:
    """Models whose training used HANDLE (every version when unpinned)."""
    hub.Handle.parse(handle)  # reject a bad handle before opening (or creating) the store
    models = hub.consumers(handle, store=ctx.store)

    def table() -> None:
        rows = [(str(m.node_id), m.pipeline or "-", "-" if m.span is None else str(m.span), m.state,
                 (m.digest or "-")[:19]) for m in models]
        stdout.print(copyable_table(("id", "pipeline", "span", "state", "digest"), rows, whole=("id", "digest")))

    ctx.emit([m.to_json() for m in models], table)


def _read_description(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.NotFound(f"description file {path} does not exist") from None
    except UnicodeDecodeError:
        raise errors.InvalidArgument(f"description file {path} is not UTF-8 text") from None


def _fmt(tensors: dict) -> str:
    return "{" + ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in tensors.items()) + "}"
