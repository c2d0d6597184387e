"""Pins: artifacts a user asked garbage collection to keep, whatever the policy says.

A pin is a custom property on the MLMD artifact (``pinned`` = 1, ``pin_reason``), so it
lives in the system of record: it survives ``mlstore reindex`` and is visible to any MLMD
client. The index row's ``properties`` JSON is updated in the same call so gc, which
plans from the index, sees it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlstore import errors
from mlstore.types import Artifact, NodeId

PINNED = "pinned"
PIN_REASON = "pin_reason"
_MAX_REASON = 1000


@dataclass(frozen=True)
class Pin:
    """A pinned artifact and why it was pinned."""

    artifact: NodeId
    type: str
    reason: str

    def to_json(self) -> dict:
        return {"artifact": str(self.artifact), "type": self.type, "reason": self.reason}


def is_pinned(artifact: Artifact) -> bool:
    return bool(artifact.properties.get(PINNED))


def pin_reason(artifact: Artifact) -> str:
    return str(artifact.properties.get(PIN_REASON) or "")


def pin(store, ref, reason: str = "") -> Pin:
    """Pins an artifact so gc always keeps it (and, by lineage, what it was made from).

    Args:
        store: an open store (:class:`~mlstore.store_api.StoreAPI`).
        ref: ``artifact:N`` or a digest prefix.
        reason: free text shown by ``mlstore pins`` and in gc reports.

    Raises:
        NotFound: no such artifact. InvalidArgument: reason too long.
        FailedPrecondition: the artifact was already deleted by gc.
    """
    if len(reason) > _MAX_REASON:
        raise errors.InvalidArgument(f"pin reason is {len(reason)} characters; keep it under {_MAX_REASON}")
    artifact = store.artifact(ref)
    if artifact.state == "DELETED":
        raise errors.FailedPrecondition(f"{artifact.node_id} was deleted by gc; its bytes are gone, it cannot be pinned")
    _write(store, artifact.id, {PINNED: 1, PIN_REASON: reason})
    return Pin(artifact.node_id, artifact.type, reason)


def unpin(store, ref) -> bool:
    """Removes a pin. Returns False when the artifact was not pinned.

    Raises:
        NotFound: no such artifact.
    """
    artifact = store.artifact(ref)
    if not is_pinned(artifact):
        return False
    _write(store, artifact.id, {PINNED: None, PIN_REASON: None})
    return True


def list_pins(store) -> list[Pin]:
    """Every pinned artifact, in id order."""
    return [Pin(a.node_id, a.type, pin_reason(a)) for a in store.artifacts() if is_pinned(a)]


def _write(store, artifact_id: int, values: dict[str, object]) -> None:
    """Sets (None: removes) the pin's custom properties (MLMD, then the index)."""
    store.set_custom_properties(artifact_id, values)
