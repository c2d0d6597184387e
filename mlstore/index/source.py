"""Which ML Metadata database the index derives from, so MLMD cannot vanish quietly.

The index is derived data; MLMD is the system of record. If MLMD goes missing (its
file deleted, its tables dropped) or the store is pointed at another MLMD database,
the index alone would keep answering, ``reindex`` would empty it and gc would offer
to reclaim every blob. So the index records a *fingerprint* of the MLMD database it
was built from: a hash of MLMD's own first execution (id, type, external id, creation
time), data every MLMD database has once written to and no other database shares.
Nothing is written into MLMD for it.

Opening a store checks the fingerprint; a missing, empty or different MLMD is a
:class:`~mlstore.errors.FailedPrecondition` naming the way out (restore the database,
or ``mlstore reindex --force``). An index without a recorded fingerprint (a new store,
or one from before migration 0006) records it once MLMD has an execution.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from ml_metadata.metadata_store import metadata_store
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from mlstore import errors
from mlstore._mlmd import Metadata
from mlstore._uri import StoreLocation
from mlstore.index import tables as t

KEY = "mlmd"


@dataclass(frozen=True)
class Fingerprint:
    value: str  # 64 hex digits
    description: str  # for messages: "execution:1 created 2026-12-03T14:46:01Z"


def mlmd_fingerprint(metadata: Metadata) -> Fingerprint | None:
    """The fingerprint of MLMD's first execution (None when MLMD has no execution)."""
    options = metadata_store.ListOptions(limit=1, order_by=metadata_store.OrderByField.ID, is_asc=True)
    first = metadata.call(metadata.raw.get_executions, list_options=options)
    if not first:
        return None
    e = first[0]
    text = f"{e.id}\0{e.type_id}\0{e.external_id}\0{e.create_time_since_epoch}"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.create_time_since_epoch / 1000))
    return Fingerprint(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
                       f"execution:{e.id} created {created}")


def recorded_fingerprint(engine: Engine) -> Fingerprint | None:
    with engine.connect() as connection:
        row = connection.execute(select(t.store_source.c.fingerprint, t.store_source.c.description)
                                 .where(t.store_source.c.key == KEY)).first()
    return Fingerprint(row[0], row[1]) if row else None


def indexed_executions(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(t.execution))


def where(location: StoreLocation) -> str:
    """Where a store's MLMD is, for messages."""
    if location.directory is not None:
        return str(location.directory / "mlmd.sqlite")
    db = location.database
    return f"{db.host}:{db.port}/{db.database}"


class StoreSource:
    """Checks and records the MLMD database an index derives from."""

    def __init__(self, engine: Engine, metadata: Metadata, location: StoreLocation):
        self.engine, self.metadata, self.location = engine, metadata, location
        self.needs_record = True

    def disagreement(self) -> str | None:
        """Why the index does not derive from this MLMD (None when it does, or may)."""
        recorded = recorded_fingerprint(self.engine)
        current = mlmd_fingerprint(self.metadata)
        self.needs_record = recorded is None and current is not None
        mlmd, uri = where(self.location), self.location.uri
        if recorded is not None and current is None:
            return (f"ML Metadata at {mlmd} is missing or empty, but the index of {uri} was built from one "
                    f"holding {recorded.description}")
        if recorded is not None and current.value != recorded.value:
            return (f"ML Metadata at {mlmd} is a different database ({current.description}) from the one the "
                    f"index of {uri} was built from ({recorded.description})")
        if recorded is None and current is None:
            count = indexed_executions(self.engine)
            if count:
                return f"ML Metadata at {mlmd} is missing or empty, but the index of {uri} holds {count} executions"
        return None

    def check(self) -> None:
        """Raises FailedPrecondition when the index does not derive from this MLMD."""
        problem = self.disagreement()
        if problem:
            raise errors.FailedPrecondition(
                f"{problem}: restore that database (the system of record), or run "
                f"`mlstore reindex --force --store {self.location.uri}` to rebuild the index from this one")

    def record(self, replace: bool = False) -> None:
        """Records MLMD's fingerprint when none is recorded (or, with ``replace``, anew)."""
        if not replace and recorded_fingerprint(self.engine) is not None:
            return
        current = mlmd_fingerprint(self.metadata)
        try:
            self._write(current, replace)
        except IntegrityError:  # another process opening the store recorded it first
            pass

    def _write(self, current: Fingerprint | None, replace: bool) -> None:
        with self.engine.begin() as connection:
            if replace:
                connection.execute(delete(t.store_source).where(t.store_source.c.key == KEY))
            if current is not None and connection.execute(
                    select(t.store_source.c.key).where(t.store_source.c.key == KEY)).first() is None:
                connection.execute(insert(t.store_source).values(
                    key=KEY, fingerprint=current.value, description=current.description[:255],
                    recorded_ms=int(time.time() * 1000)))
