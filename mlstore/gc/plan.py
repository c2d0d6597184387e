"""The gc plan: which artifacts to keep (and the root that keeps each), which to reclaim,
and which blobs that frees.

The keep set is computed in rounds until nothing changes:

1. *roots*: pinned, pushed (PushedModel and the model it came from), blessed (blessed
   model and its blessing), HubModule versions, each pipeline's newest Schema (what
   later days validate, transform and train with), the last ``keep_days`` spans of each
   pipeline, the last ``keep_last`` artifacts per (pipeline, type);
2. *lineage*: everything upstream of a kept artifact (one recursive query through
   :meth:`Store.lineage`), unless ``lineage_may_outlive_bytes``;
3. *small companions*: evaluations and blessings of kept models (whose upstream then
   joins in round 2).

Each kept artifact records the first root that reached it (roots in the order above,
upstream nodes from their nearest kept descendant), so ``gc --dry-run`` can say why.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from mlstore.gc.inventory import BlobInfo, Inventory
from mlstore.gc.pins import is_pinned, pin_reason
from mlstore.gc.policy import RetentionPolicy
from mlstore.types import Artifact, NodeId

DAY_MS = 86_400_000
UNREFERENCED = "(unreferenced)"
_COMPANION_TYPES = ("ModelEvaluation", "ModelBlessing")


@dataclass(frozen=True)
class BlobSweep:
    """A blob gc removes (or would, once it is older than the grace period)."""

    digest: str
    size: int
    type: str  # type of the reclaimed artifact that freed it, or "(unreferenced)"
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size, "type": self.type, "why": self.why}


@dataclass(frozen=True)
class GcPlan:
    """What a gc run keeps and reclaims under ``policy``."""

    policy: RetentionPolicy
    kept: dict[int, str]  # artifact id -> why it is kept
    reclaim: tuple[Artifact, ...]  # artifacts to mark DELETED
    blobs: tuple[BlobSweep, ...]  # blobs to sweep now
    deferred: tuple[BlobSweep, ...]  # unreferenced but younger than the grace period
    kept_without_bytes: tuple[int, ...]  # kept by lineage but already DELETED earlier
    created_ms: int

    @property
    def bytes_by_type(self) -> dict[str, int]:
        """Bytes swept now, per type of the artifact that freed them."""
        return _bytes_by_type(self.blobs)

    @property
    def deferred_bytes_by_type(self) -> dict[str, int]:
        """Bytes freed but younger than the grace period: a later gc sweeps them."""
        return _bytes_by_type(self.deferred)

    @property
    def artifacts_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for art in self.reclaim:
            counts[art.type] = counts.get(art.type, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def total_bytes(self) -> int:
        return sum(b.size for b in self.blobs)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_json(),
            "reclaim": [str(a.node_id) for a in self.reclaim],
            "reclaim_by_type": {k: {"artifacts": self.artifacts_by_type.get(k, 0),
                                    "bytes": self.bytes_by_type.get(k, 0),
                                    "deferred_bytes": self.deferred_bytes_by_type.get(k, 0)}
                                for k in self.types()},
            "bytes": self.total_bytes,
            "blobs": [b.to_json() for b in self.blobs],
            "deferred_blobs": [b.to_json() for b in self.deferred],
            "kept": {f"artifact:{i}": why for i, why in sorted(self.kept.items())},
            "kept_without_bytes": [f"artifact:{i}" for i in self.kept_without_bytes],
        }

    def types(self) -> list[str]:
        """Every type with something reclaimed (artifacts or bytes)."""
        return sorted(set(self.artifacts_by_type) | set(self.bytes_by_type) | set(self.deferred_bytes_by_type))


def _bytes_by_type(blobs: Iterable[BlobSweep]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for blob in blobs:
        totals[blob.type] = totals.get(blob.type, 0) + blob.size
    return dict(sorted(totals.items()))


def make_plan(store, policy: RetentionPolicy, now_ms: int | None = None) -> GcPlan:
    """Computes what gc would do now. Reads only; changes nothing.

    Args:
        store: an open (local-database) Store.
        policy: the retention policy.
        now_ms: "now" in epoch ms (for the grace period and span-less artifacts).
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    artifacts = {a.id: a for a in store.artifacts()}
    # Lineage queries run after the snapshot and may reach artifacts logged since: those
    # are not in the snapshot, so they are never reclaimed by this plan anyway.
    kept = {i: why for i, why in choose_kept(store, artifacts, policy, now_ms).items() if i in artifacts}
    reclaim = tuple(a for i, a in sorted(artifacts.items()) if i not in kept and a.state != "DELETED")
    sweep, deferred = _blobs_freed(store, artifacts, kept, reclaim, policy, now_ms)
    missing = tuple(sorted(i for i in kept if artifacts[i].state == "DELETED"))
    return GcPlan(policy, {i: r for i, r in kept.items() if artifacts[i].state != "DELETED"},
                  reclaim, sweep, deferred, missing, now_ms)


def choose_kept(store, artifacts: dict[int, Artifact], policy: RetentionPolicy, now_ms: int) -> dict[int, str]:
    """``{artifact id: why}`` of every artifact the policy keeps (see module docstring)."""
    kept: dict[int, str] = {}
    _add(kept, root_reasons(store, artifacts, policy, now_ms))
    frontier = list(kept)
    while frontier:
        before = set(kept)
        if not policy.lineage_may_outlive_bytes:
            _add(kept, _upstream_reasons(store, frontier, kept))
        this_round = frontier + [i for i in kept if i not in before]
        models = [i for i in this_round if i in artifacts and artifacts[i].type == "Model"]
        before = set(kept)
        _add(kept, _companion_reasons(store, models))
        frontier = [i for i in kept if i not in before]  # new companions: walk their upstream next
    return kept


def _add(kept: dict[int, str], reasons: Iterable[tuple[int, str]]) -> None:
    for artifact_id, why in reasons:
        kept.setdefault(artifact_id, why)


def root_reasons(store, artifacts: dict[int, Artifact], policy: RetentionPolicy, now_ms: int) -> list[tuple[int, str]]:
    """Roots in priority order: pinned, pushed, blessed, modules, day window, last-N."""
    live = [a for a in artifacts.values() if a.state != "DELETED"]
    reasons = [(a.id, f"pinned: {pin_reason(a) or '(no reason given)'}") for a in live if is_pinned(a)]
    if policy.keep_pushed:
        reasons += _pushed_reasons(store, live)
    if policy.keep_blessed:
        for b in store.blessings():
            if b.blessed and b.model_id in artifacts:
                reasons.append((b.model_id, f"blessed model (blessing artifact:{b.id})"))
                reasons.append((b.id, f"blessing of blessed model artifact:{b.model_id}"))
    if policy.keep_modules:
        reasons += [(a.id, "HubModule version") for a in live if a.type == "HubModule"]
    reasons += _current_schemas(live)
    if policy.keep_days:
        reasons += _day_window(live, policy.keep_days, now_ms)
    if policy.keep_last:
        reasons += _last_n(live, policy.keep_last)
    return reasons


def _current_schemas(live: list[Artifact]) -> list[tuple[int, str]]:
    """The newest Schema of each pipeline: every later day validates against it and its
    Transform and Trainer read it, whatever day it was inferred or curated on."""
    newest: dict[str | None, Artifact] = {}
    for a in live:
        if a.type == "Schema" and (a.pipeline not in newest or a.id > newest[a.pipeline].id):
            newest[a.pipeline] = a
    return [(a.id, f"current Schema of {a.pipeline}") for a in newest.values()]


def _pushed_reasons(store, live: list[Artifact]) -> list[tuple[int, str]]:
    pushed = [a.id for a in live if a.type == "PushedModel"]
    reasons = [(i, "pushed model") for i in pushed]
    return reasons + [(model_id, "model that was pushed") for model_id in store.gc_index().models_pushed_by(pushed)]


def _day_window(live: list[Artifact], days: int, now_ms: int) -> list[tuple[int, str]]:
    newest: dict[str | None, int] = {}
    for a in live:
        if a.span is not None:
            newest[a.pipeline] = max(newest.get(a.pipeline, a.span), a.span)
    reasons = []
    for a in live:
        if a.span is not None and a.span > newest[a.pipeline] - days:
            reasons.append((a.id, f"within last {days} days of {a.pipeline} (span >= {newest[a.pipeline] - days + 1})"))
        elif a.span is None and a.create_time_ms >= now_ms - days * DAY_MS:
            reasons.append((a.id, f"created within last {days} days"))
    return reasons


def _last_n(live: list[Artifact], n: int) -> list[tuple[int, str]]:
    groups: dict[tuple[str | None, str], list[Artifact]] = {}
    for a in live:
        groups.setdefault((a.pipeline, a.type), []).append(a)
    reasons = []
    for (pipeline, type_), members in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        newest = sorted(members, key=lambda a: (a.span if a.span is not None else -1, a.create_time_ms, a.id))[-n:]
        reasons += [(a.id, f"one of the last {n} {type_} of {pipeline}") for a in newest]
    return reasons


def _upstream_reasons(store, starts: list[int], kept: dict[int, str]) -> list[tuple[int, str]]:
    """Artifacts upstream of ``starts``, each attributed to its nearest start (BFS)."""
    if not starts:
        return []
    graph = store.lineage([NodeId("artifact", i) for i in sorted(starts)], direction="up")
    parents: dict[NodeId, list[NodeId]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.target, []).append(edge.source)
    origin = {NodeId("artifact", i): NodeId("artifact", i) for i in sorted(starts)}
    queue = deque(origin)
    reasons = []
    while queue:
        node = queue.popleft()
        for parent in sorted(parents.get(node, ())):
            if parent in origin:
                continue
            origin[parent] = origin[node]
            queue.append(parent)
            if parent.kind == "artifact" and parent.id not in kept:
                reasons.append((parent.id, f"upstream of {origin[node]}"))
    return reasons


def _companion_reasons(store, model_ids: list[int]) -> list[tuple[int, str]]:
    """Evaluations and blessings made for kept models (role ``model`` inputs)."""
    if not model_ids:
        return []
    rows = store.gc_index().companions_of(model_ids, _COMPANION_TYPES)
    word = {"ModelEvaluation": "evaluation", "ModelBlessing": "blessing"}
    return [(companion, f"{word[type_]} of kept model artifact:{model}") for model, companion, type_ in sorted(rows)]


def _blobs_freed(store, artifacts, kept, reclaim, policy, now_ms) -> tuple[tuple[BlobSweep, ...], tuple[BlobSweep, ...]]:
    """Blobs no surviving artifact references, split into sweep-now and too-young."""
    reclaim_ids = {a.id for a in reclaim}
    surviving = {a.digest for a in artifacts.values()
                 if a.digest and a.state != "DELETED" and a.id not in reclaim_ids}
    surviving |= store.gc_index().run_blob_digests()  # runs' package lists and code files
    recorded = {a.digest for a in artifacts.values() if a.digest}
    freed_by: dict[str, Artifact] = {}
    for art in reclaim:
        if art.digest and art.digest not in surviving:
            freed_by.setdefault(art.digest, art)
    inventory = Inventory(store.blobs)
    candidates: list[tuple[BlobInfo, str, str]] = []
    for digest in inventory.complete_digests():
        if digest in surviving:
            continue
        info = inventory.info(digest)
        if info is None:
            continue
        if digest in freed_by:
            art = freed_by[digest]
            candidates.append((info, art.type, f"only reclaimed artifacts reference it ({art.node_id})"))
        elif digest in recorded:
            candidates.append((info, UNREFERENCED, "referenced only by deleted artifacts"))
        else:
            candidates.append((info, UNREFERENCED, "no artifact references it"))
    for info in inventory.incomplete():
        if info.digest not in surviving:
            candidates.append((info, UNREFERENCED, "incomplete blob (no manifest)"))
    sweep, deferred = [], []
    for info, type_, why in candidates:
        target = sweep if now_ms - info.modified_ms >= policy.grace_ms else deferred
        target.append(BlobSweep(info.digest, info.size, type_, why))
    return tuple(sweep), tuple(deferred)
