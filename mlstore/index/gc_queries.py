"""Garbage collection's index reads and its crash-safe deletion writes (see :mod:`mlstore.gc`).

:class:`GcIndex` is what :meth:`mlstore.store.Store.gc_index` hands to ``mlstore.gc``:
the plan's lineage-side questions (which models were pushed, which evaluations and
blessings belong to a model, which blobs runs reference) and the sweep's writes
(intents, MLMD state DELETED, index state DELETED), so the gc modules touch neither
tables nor MLMD. The deletion protocol is described in :mod:`mlstore.index.gc_tables`.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from mlstore._mlmd import Metadata
from mlstore.index import tables as t
from mlstore.index.gc_tables import gc_intent
from mlstore.index.run_blobs import is_run_blob, run_blob_digests
from mlstore.index.writer import properties_of

__all__ = ["GcIndex"]


class GcIndex:
    """One store's MLMD and index, as garbage collection reads and writes them."""

    def __init__(self, metadata: Metadata, engine: Engine):
        self.metadata, self.engine = metadata, engine

    # -- the plan ------------------------------------------------------------------------

    def models_pushed_by(self, pushed_ids: Sequence[int]) -> list[int]:
        """Ids of the Models that the executions producing ``pushed_ids`` (PushedModels) read, sorted."""
        if not pushed_ids:
            return []
        ev = t.event.c
        with self.engine.connect() as connection:
            producers = select(ev.execution_id).where(ev.artifact_id.in_(list(pushed_ids)), ev.is_output.is_(True))
            rows = connection.execute(
                select(ev.artifact_id, t.artifact.c.type)
                .join(t.artifact, t.artifact.c.id == ev.artifact_id)
                .where(ev.execution_id.in_(producers), ev.is_output.is_(False), t.artifact.c.type == "Model")
            ).all()
        return [model_id for model_id, _ in sorted(rows)]

    def companions_of(self, model_ids: Sequence[int], types: Sequence[str]) -> list[tuple[int, int, str]]:
        """``(model id, companion id, companion type)``, sorted: outputs of ``types`` of the
        executions that read a model of ``model_ids`` as their ``model`` input."""
        if not model_ids:
            return []
        ev, a = t.event.c, t.artifact.c
        out = t.event.alias("out")
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(ev.artifact_id, out.c.artifact_id, a.type)
                .join(out, (out.c.execution_id == ev.execution_id) & out.c.is_output.is_(True))
                .join(t.artifact, a.id == out.c.artifact_id)
                .where(ev.artifact_id.in_(list(model_ids)), ev.is_output.is_(False), ev.role == "model",
                       a.type.in_(list(types)))
            ).all()
        return sorted((model, companion, type_) for model, companion, type_ in rows)

    def run_blob_digests(self) -> set[str]:
        """Digests of the blobs runs reference (package lists and code files)."""
        with self.engine.connect() as connection:
            return run_blob_digests(connection)

    # -- the sweep -----------------------------------------------------------------------

    def write_intents(self, artifacts: Sequence, now_ms: int) -> None:
        """Records the intent to delete ``artifacts`` (those without one yet), in one transaction."""
        ids = [a.id for a in artifacts]
        with self.engine.begin() as connection:
            present = set(connection.scalars(select(gc_intent.c.artifact_id).where(gc_intent.c.artifact_id.in_(ids))))
            rows = [{"artifact_id": a.id, "digest": a.digest, "reason": "reclaimed by gc", "created_ms": now_ms}
                    for a in artifacts if a.id not in present]
            if rows:
                connection.execute(insert(gc_intent), rows)

    def intent_ids(self) -> list[int]:
        """Artifacts whose deletion was started and not finished, in id order."""
        with self.engine.connect() as connection:
            return list(connection.scalars(select(gc_intent.c.artifact_id).order_by(gc_intent.c.artifact_id)))

    def finish_deletion(self, ids: list[int]) -> None:
        """Sets MLMD state DELETED (only the state), then the index state, dropping the intents."""
        mlmd = self.metadata
        protos = mlmd.call(mlmd.raw.get_artifacts_by_id, ids)
        changed = []
        for proto in protos:
            if proto.state != proto.DELETED:
                proto.state = proto.DELETED  # only the state: MLMD keeps the record and properties
                changed.append(proto)
        if changed:
            mlmd.call(mlmd.raw.put_artifacts, changed)
        with self.engine.begin() as connection:
            connection.execute(update(t.artifact).where(t.artifact.c.id.in_(ids)).values(state="DELETED"))
            connection.execute(delete(gc_intent).where(gc_intent.c.artifact_id.in_(ids)))

    def is_referenced(self, digest: str) -> tuple[bool, list[str]]:
        """``(referenced, pending)``: whether a non-DELETED artifact or a run references the
        blob ``digest``, and the external ids of executions being written (the journal)."""
        a = t.artifact.c
        with self.engine.connect() as connection:
            live = connection.scalar(select(a.id).where(a.digest == digest, a.state != "DELETED").limit(1))
            referenced = live is not None or is_run_blob(connection, digest)
            pending = list(connection.scalars(select(t.journal.c.external_id)))
        return referenced, pending

    def inflight_digests(self, external_ids: list[str]) -> set[str]:
        """Digests of artifacts of executions in MLMD that the index has not caught up with yet."""
        mlmd = self.metadata
        executions = mlmd.executions_by_external_ids(external_ids)
        if not executions:
            return set()
        events = mlmd.call(mlmd.raw.get_events_by_execution_ids, [e.id for e in executions])
        ids = sorted({ev.artifact_id for ev in events})
        protos = mlmd.call(mlmd.raw.get_artifacts_by_id, ids) if ids else []
        return {str(properties_of(p).get("digest")) for p in protos}
