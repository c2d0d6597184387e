"""Pins: artifacts a user asked garbage collection to keep, whatever the policy says.

A pin is a custom property on the MLMD artifact (``pinned`` = 1, ``pin_reason``), so it
lives in the system of record: it survives ``mlstore reindex`` and is visible to any MLMD
client. The index row's ``properties`` JSON is updated in the same call so gc, which
plans from the index, sees it at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import update

from mlstore import errors
from mlstore.index import tables as t
from mlstore.index.writer import properties_of
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
        store: an open Store.
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
    """Sets (None: removes) custom properties in MLMD, then mirrors them into the index."""
    if not hasattr(store, "engine"):
        raise errors.InvalidArgument("pins are written to the store's database, not through a server; use --store")
    mlmd = store.metadata
    [proto] = mlmd.call(mlmd.raw.get_artifacts_by_id, [artifact_id])
    for key, value in values.items():
        if value is None:
            if key in proto.custom_properties:
                del proto.custom_properties[key]
        elif isinstance(value, int):
            proto.custom_properties[key].int_value = value
        else:
            proto.custom_properties[key].string_value = str(value)
    mlmd.call(mlmd.raw.put_artifacts, [proto])
    with store.engine.begin() as connection:
        connection.execute(
            update(t.artifact).where(t.artifact.c.id == artifact_id)
            .values(properties=json.dumps(properties_of(proto), sort_keys=True))
        )
