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

from mlstore.gc.inventory import Inventory
from mlstore.gc.plan import BlobSweep, GcPlan, make_plan
from mlstore.gc.policy import RetentionPolicy
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
    store.source.check()


def mark_deleted(store, artifacts: Sequence[Artifact], reasons: dict[int, str] | None = None) -> None:
    """Marks artifacts DELETED in MLMD and the index, crash-safely (intents first)."""
    if not artifacts:
        return
    index = store.gc_index()
    index.write_intents(artifacts, int(time.time() * 1000))
    index.finish_deletion([a.id for a in artifacts])


def recover_intents(store) -> int:
    """Finishes deletions a killed gc started. Returns how many artifacts it finished."""
    index = store.gc_index()
    ids = index.intent_ids()
    if ids:
        index.finish_deletion(ids)
    return len(ids)


def _still_unreferenced(store, inventory: Inventory, digest: str, grace_ms: int) -> bool:
    """The last check before deleting a blob (see the module docstring, step 3)."""
    index = store.gc_index()
    referenced, pending = index.is_referenced(digest)
    if referenced or (pending and digest in index.inflight_digests(pending)):
        return False
    return int(time.time() * 1000) - inventory.modified_ms(digest) >= grace_ms


def _pause() -> None:
    seconds = float(os.environ.get(PAUSE_ENV, "0") or 0)
    if seconds > 0:
        time.sleep(seconds)
