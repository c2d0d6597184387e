"""The gc executor: mark reclaimed artifacts DELETED, then sweep the bytes nobody needs.

Order, so that a crash at any point leaves every artifact either fully present or
DELETED with its bytes gone or about to be swept by the next run:

1. roll forward intents a killed gc left behind (see ``mlstore/index/gc_tables.py``);
2. per batch of reclaimed artifacts: write intents -> set MLMD state DELETED (full proto,
   properties untouched) -> set index state DELETED and drop the intents, in one
   index transaction;
3. sweep blobs no non-DELETED artifact references, each re-checked right before it is
   deleted: still unreferenced in the index, not referenced by an execution being written
   (journal), and its manifest older than the grace period (publishing identical content
   again refreshes the manifest, so a concurrent run's blobs always look young).

A blob's manifest is deleted before its files, so a sweep killed mid-blob leaves an
incomplete object directory, which step 3 of the next run removes.

Known limits: the grace period protects what concurrent runs *write*; a run that starts
using an artifact this gc is reclaiming (say, warm-starting from an old unblessed model)
records a DELETED input -- the plan reports such kept-by-lineage-but-deleted artifacts as
``kept_without_bytes``. Between the last re-check and the delete of one blob there is a
window of one storage call; closing it needs a lock shared with writers.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sqlalchemy import delete, insert, select, update

from mlstore.gc.inventory import Inventory
from mlstore.gc.plan import BlobSweep, GcPlan, make_plan
from mlstore.gc.policy import RetentionPolicy
from mlstore.index import tables as t
from mlstore.index.gc_tables import gc_intent
from mlstore.index.run_blobs import is_run_blob
from mlstore.index.writer import properties_of
from mlstore.types import Artifact

#: Test-only: seconds to sleep after each marked batch and each swept blob, so a test
#: can SIGKILL a gc at a known point. Never set it in production.
PAUSE_ENV = "MLSTORE_GC_PAUSE_SECONDS"
MARK_BATCH = 200

Progress = Callable[[str], None]


@dataclass
class GcResult:
    """What a gc run did (or, for a dry run, would do)."""

    plan: GcPlan
    dry_run: bool
    recovered: int = 0  # artifacts whose interrupted deletion was finished first
    marked: int = 0
    swept: list[BlobSweep] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # blobs re-checked and spared

    @property
    def bytes_freed(self) -> int:
        return sum(b.size for b in self.swept)

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "dry_run": self.dry_run, "recovered": self.recovered,
                "marked": self.marked, "bytes_freed": self.bytes_freed,
                "swept": [b.digest for b in self.swept], "spared": self.skipped}


def collect(store, policy: RetentionPolicy, *, dry_run: bool = False, progress: Progress | None = None,
            batch_size: int = MARK_BATCH) -> GcResult:
    """Runs garbage collection on ``store`` under ``policy``.

    Args:
        store: an open local :class:`~mlstore.store.Store` (a remote store's
            :meth:`~mlstore.store_api.StoreAPI.collect_garbage` says gc has no RPC yet).
        policy: what to keep.
        dry_run: only compute and return the plan; change nothing.
        progress: called with one line per step (marked batch, swept blob).
        batch_size: artifacts marked DELETED per MLMD call.

    Raises:
        FailedPrecondition: the index does not derive from the store's MLMD.
    """
    say = progress or (lambda _line: None)
    _check_source(store)
    recovered = 0 if dry_run else recover_intents(store)
    plan = make_plan(store, policy)
    result = GcResult(plan, dry_run, recovered=recovered)
    if dry_run:
        return result
    for i in range(0, len(plan.reclaim), batch_size):
        batch = plan.reclaim[i:i + batch_size]
        mark_deleted(store, batch, plan.kept)
        result.marked += len(batch)
        say(f"marked {result.marked}/{len(plan.reclaim)} artifacts DELETED")
        _pause()
    _check_source(store)  # never sweep bytes while the index and MLMD disagree
    inventory = Inventory(store.blobs)
    for blob in plan.blobs:
        if _still_unreferenced(store, inventory, blob.digest, policy.grace_ms):
            store.blobs.delete(blob.digest)
            result.swept.append(blob)
            say(f"swept {blob.digest} ({blob.size} bytes, {blob.type})")
            _pause()
        else:
            result.skipped.append(blob.digest)
    return result


def _check_source(store) -> None:
    """Raises FailedPrecondition when the index does not derive from the store's MLMD."""
    source = getattr(store, "source", None)
    if source is not None:
        source.check()


def mark_deleted(store, artifacts: Sequence[Artifact], reasons: dict[int, str] | None = None) -> None:
    """Marks artifacts DELETED in MLMD and the index, crash-safely (intents first)."""
    if not artifacts:
        return
    now = int(time.time() * 1000)
    ids = [a.id for a in artifacts]
    with store.engine.begin() as connection:
        present = set(connection.scalars(select(gc_intent.c.artifact_id).where(gc_intent.c.artifact_id.in_(ids))))
        rows = [{"artifact_id": a.id, "digest": a.digest, "reason": "reclaimed by gc", "created_ms": now}
                for a in artifacts if a.id not in present]
        if rows:
            connection.execute(insert(gc_intent), rows)
    _finish(store, ids)


def recover_intents(store) -> int:
    """Finishes deletions a killed gc started. Returns how many artifacts it finished."""
    with store.engine.connect() as connection:
        ids = list(connection.scalars(select(gc_intent.c.artifact_id).order_by(gc_intent.c.artifact_id)))
    if ids:
        _finish(store, ids)
    return len(ids)


def _finish(store, ids: list[int]) -> None:
    mlmd = store.metadata
    protos = mlmd.call(mlmd.raw.get_artifacts_by_id, ids)
    changed = []
    for proto in protos:
        if proto.state != proto.DELETED:
            proto.state = proto.DELETED  # only the state: MLMD keeps the record and properties
            changed.append(proto)
    if changed:
        mlmd.call(mlmd.raw.put_artifacts, changed)
    with store.engine.begin() as connection:
        connection.execute(update(t.artifact).where(t.artifact.c.id.in_(ids)).values(state="DELETED"))
        connection.execute(delete(gc_intent).where(gc_intent.c.artifact_id.in_(ids)))


def _still_unreferenced(store, inventory: Inventory, digest: str, grace_ms: int) -> bool:
    """The last check before deleting a blob (see the module docstring, step 3)."""
    a = t.artifact.c
    with store.engine.connect() as connection:
        live = connection.scalar(select(a.id).where(a.digest == digest, a.state != "DELETED").limit(1))
        if live is None and is_run_blob(connection, digest):
            live = digest  # a run's package list or code files
        pending = list(connection.scalars(select(t.journal.c.external_id)))
    if live is not None or (pending and digest in _inflight_digests(store, pending)):
        return False
    return int(time.time() * 1000) - inventory.modified_ms(digest) >= grace_ms


def _inflight_digests(store, external_ids: list[str]) -> set[str]:
    """Digests of outputs of executions in MLMD that the index has not caught up with yet."""
    mlmd = store.metadata
    executions = mlmd.executions_by_external_ids(external_ids)
    if not executions:
        return set()
    events = mlmd.call(mlmd.raw.get_events_by_execution_ids, [e.id for e in executions])
    ids = sorted({ev.artifact_id for ev in events})
    protos = mlmd.call(mlmd.raw.get_artifacts_by_id, ids) if ids else []
    return {str(properties_of(p).get("digest")) for p in protos}


def _pause() -> None:
    seconds = float(os.environ.get(PAUSE_ENV, "0") or 0)
    if seconds > 0:
        time.sleep(seconds)
