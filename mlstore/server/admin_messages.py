"""GcResult, RetentionPolicy and Pin <-> AdminService messages, for the server and
:mod:`mlstore.client` (the CLI prints a remote gc exactly as a local one)."""

from __future__ import annotations

import dataclasses

from mlstore.gc import GcPlan, GcResult, Pin, RetentionPolicy, make_policy
from mlstore.gc.plan import BlobSweep
from mlstore.server import convert
from mlstore.types import NodeId
from mlstore.v1 import admin_service_pb2 as apb

_POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(RetentionPolicy))


def policy_to_pb(policy: RetentionPolicy) -> apb.RetentionPolicy:
    return apb.RetentionPolicy(**{k: v for k, v in dataclasses.asdict(policy).items() if v is not None})


def policy_from_pb(message: apb.RetentionPolicy) -> RetentionPolicy:
    """The policy a request names, validated as a local policy is.

    Raises:
        InvalidArgument: neither keep_days nor keep_last, or a value out of range.
    """
    return make_policy({k: getattr(message, k) for k in _POLICY_FIELDS if message.HasField(k)})


def _blob_to_pb(blob: BlobSweep) -> apb.BlobSweep:
    return apb.BlobSweep(digest=blob.digest, size=blob.size, type=blob.type, why=blob.why)


def _blob_from_pb(message: apb.BlobSweep) -> BlobSweep:
    return BlobSweep(message.digest, message.size, message.type, message.why)


def gc_result_to_pb(result: GcResult) -> apb.CollectGarbageResponse:
    plan = result.plan
    return apb.CollectGarbageResponse(
        policy=policy_to_pb(plan.policy), dry_run=result.dry_run, kept=plan.kept,
        reclaimed=[convert.artifact_to_pb(a) for a in plan.reclaim], blobs=[_blob_to_pb(b) for b in plan.blobs],
        deferred=[_blob_to_pb(b) for b in plan.deferred], kept_without_bytes=plan.kept_without_bytes,
        created_ms=plan.created_ms, recovered=result.recovered, marked=result.marked,
        swept=[_blob_to_pb(b) for b in result.swept], spared=result.skipped)


def gc_result_from_pb(message: apb.CollectGarbageResponse) -> GcResult:
    plan = GcPlan(policy=policy_from_pb(message.policy), kept=dict(message.kept),
                  reclaim=tuple(convert.artifact_from_pb(a) for a in message.reclaimed),
                  blobs=tuple(_blob_from_pb(b) for b in message.blobs),
                  deferred=tuple(_blob_from_pb(b) for b in message.deferred),
                  kept_without_bytes=tuple(message.kept_without_bytes), created_ms=message.created_ms)
    return GcResult(plan, message.dry_run, recovered=message.recovered, marked=message.marked,
                    swept=[_blob_from_pb(b) for b in message.swept], skipped=list(message.spared))


def pin_to_pb(pin: Pin) -> apb.Pin:
    return apb.Pin(artifact=str(pin.artifact), type=pin.type, reason=pin.reason)


def pin_from_pb(message: apb.Pin) -> Pin:
    return Pin(NodeId.parse(message.artifact), message.type, message.reason)
