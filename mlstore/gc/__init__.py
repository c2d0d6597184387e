"""Retention and garbage collection: keep what lineage needs, reclaim the rest.

>>> from mlstore import gc
>>> policy = gc.load_policy(None, {"keep_days": 7})
>>> gc.collect(store, policy, dry_run=True).plan.total_bytes

Modules: ``policy`` (what to keep), ``plan`` (keep set with reasons, reclaim set, bytes),
``sweep`` (mark DELETED, then sweep blobs, crash-safe), ``pins`` (user pins in MLMD),
``inventory`` (what is physically in the blob store, and how old).
"""

from mlstore.gc.pins import Pin, list_pins, pin, unpin
from mlstore.gc.plan import BlobSweep, GcPlan, make_plan
from mlstore.gc.policy import RetentionPolicy, load_policy, make_policy
from mlstore.gc.sweep import GcResult, collect

__all__ = [
    "BlobSweep", "GcPlan", "GcResult", "Pin", "RetentionPolicy",
    "collect", "list_pins", "load_policy", "make_plan", "make_policy", "pin", "unpin",
]
