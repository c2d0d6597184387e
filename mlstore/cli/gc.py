"""Garbage collection commands: gc, pin, unpin, pins."""

from __future__ import annotations

import click
from rich.table import Table

from mlstore import gc as gc_api
from mlstore.cli._common import Context, stderr, stdout, store_options


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only print what would be reclaimed and why the rest is kept.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), default=None,
              help="YAML retention policy; flags override its keys.")
@click.option("--keep-days", type=int, default=None, help="Keep the newest N spans of each pipeline.")
@click.option("--keep-last", type=int, default=None, help="Keep the N newest artifacts per pipeline and type.")
@click.option("--lineage-may-outlive-bytes", is_flag=True, default=None,
              help="Do not keep upstream bytes of kept artifacts (their records stay).")
@click.option("--grace-minutes", type=float, default=None,
              help="Never sweep a blob published within this many minutes (default 60).")
@store_options
def gc(ctx: Context, dry_run, policy_file, keep_days, keep_last, lineage_may_outlive_bytes, grace_minutes) -> None:
    """Reclaim artifacts the retention policy does not keep (bytes; records stay, marked DELETED)."""
    policy = gc_api.load_policy(policy_file, {
        "keep_days": keep_days, "keep_last": keep_last, "grace_minutes": grace_minutes,
        "lineage_may_outlive_bytes": lineage_may_outlive_bytes,
    })
    progress = None if ctx.as_json else (lambda line: stderr.print(line, markup=False))
    result = ctx.store.collect_garbage(policy, dry_run=dry_run, progress=progress)
    ctx.emit(result.to_json(), lambda: _print_result(result))


def _print_result(result: gc_api.GcResult) -> None:
    plan = result.plan
    verb = "would reclaim" if result.dry_run else "reclaimed"
    kept = Table("kept", "why", box=None)
    for artifact_id, why in sorted(plan.kept.items()):
        kept.add_row(f"artifact:{artifact_id}", why)
    stdout.print(kept)
    by_type = Table("type", "artifacts", "bytes", "bytes within grace period", box=None)
    for type_ in plan.types():
        by_type.add_row(type_, str(plan.artifacts_by_type.get(type_, 0)), _human(plan.bytes_by_type.get(type_, 0)),
                        _human(plan.deferred_bytes_by_type.get(type_, 0)))
    stdout.print(by_type)
    for art in plan.reclaim:
        stdout.print(f"  reclaim {art.node_id} {art.type} span={art.span}", markup=False)
    freed = plan.total_bytes if result.dry_run else result.bytes_freed
    stdout.print(f"{verb}: {len(plan.reclaim)} artifacts, {len(plan.blobs)} blobs, {_human(freed)} "
                 f"({freed} bytes); kept {len(plan.kept)} artifacts", markup=False)
    if plan.deferred:
        stdout.print(f"{len(plan.deferred)} unreferenced blob(s) are younger than the grace period; "
                     "a later gc sweeps them", markup=False)
    if plan.kept_without_bytes:
        stdout.print("kept by lineage but already deleted earlier: "
                     + ", ".join(f"artifact:{i}" for i in plan.kept_without_bytes), markup=False)
    if result.recovered:
        stdout.print(f"finished {result.recovered} deletion(s) an interrupted gc had started", markup=False)


@click.command()
@click.argument("ref")
@click.option("--reason", default="", help="Why it must be kept (shown by `mlstore pins` and gc).")
@store_options
def pin(ctx: Context, ref: str, reason: str) -> None:
    """Pin an artifact: gc always keeps it and what it was made from."""
    result = gc_api.pin(ctx.store, ref, reason)
    ctx.emit(result.to_json(), f"pinned {result.artifact} ({result.type})" + (f": {reason}" if reason else ""))


@click.command()
@click.argument("ref")
@store_options
def unpin(ctx: Context, ref: str) -> None:
    """Remove a pin."""
    removed = gc_api.unpin(ctx.store, ref)
    ctx.emit({"artifact": ref, "unpinned": removed}, f"unpinned {ref}" if removed else f"{ref} was not pinned")


@click.command()
@store_options
def pins(ctx: Context) -> None:
    """List pinned artifacts."""
    found = gc_api.list_pins(ctx.store)
    ctx.emit([p.to_json() for p in found],
             lambda: [stdout.print(f"{p.artifact}  {p.type}  {p.reason}", markup=False) for p in found]
             or stdout.print("no pinned artifacts"))
