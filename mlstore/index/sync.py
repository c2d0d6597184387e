"""Keeping the index level with MLMD: the engine, schema check, catch-up and rebuild.

Every write goes MLMD first, then the index. A journal row written before the MLMD
transaction makes the pair crash-safe: whoever opens the store next finds the row,
looks the execution up in MLMD by its external id and indexes it (or, once the row is
older than any write can take, drops it: that MLMD write never happened). An index
that is empty while MLMD is not (a new index over an old store) is rebuilt.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import create_engine, delete, event, insert, select, update
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import OperationalError

from mlstore import errors
from mlstore._mlmd import Metadata
from mlstore._uri import StoreLocation
from mlstore.index import fingerprints, metric_tiers, migrate
from mlstore.index import tables as t
from mlstore.index.queries import spans_by_id
from mlstore.index.writer import IndexBatch, write_batch_safely
from mlstore.tfx import records as tfx
from mlstore.tfx import tfma

_MLMD_PAGE = 500
#: A rebuild of more executions than this fingerprints in a second process.
_BULK_FROM = 2 * _MLMD_PAGE

#: How long a journal row may belong to an MLMD write still in flight (MySQL waits up to
#: 50 s for a lock by default); after that, a row without its execution in MLMD is from
#: a write that died before its MLMD commit.
IN_FLIGHT_MS = 10 * 60 * 1000

#: Executions MLMD updated this long before the sync position are read again: clocks of
#: writers on other hosts, and a transaction that commits after a later one started.
UPDATE_MARGIN_MS = 60 * 1000
_POSITION = "mlmd_updated_ms"

_LOCK_WAIT_S = 120  # for the process creating a new store's schemas
_PG_LOCK_KEY = 0x6D6C73746F7265  # "mlstore"


def index_engine(location: StoreLocation) -> Engine:
    """The SQLAlchemy engine of a store's index (``index.sqlite`` or the shared database)."""
    if location.directory is not None:
        engine = create_engine(f"sqlite:///{location.directory / 'index.sqlite'}")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # The index is derived data (rebuildable with `mlstore reindex`), so it skips
            # fsync: a killed process loses nothing, only an OS crash could need a reindex.
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Reads through a memory map instead of a read() per page: the metric index
            # of a year of 200-metric evaluations is touched on ~200 pages a day.
            cursor.execute(f"PRAGMA mmap_size={1 << 30}")
            cursor.close()

        return engine
    db = location.database
    driver = "mysql+pymysql" if db.dialect == "mysql" else "postgresql+psycopg2"
    url = URL.create(driver, db.user or None, db.password or None, db.host, db.port, db.database)
    return create_engine(url, pool_pre_ping=True)


def prepare_schema(engine: Engine, uri: str) -> None:
    """Creates the index tables of a new store; refuses an index at another revision.

    Raises:
        Unavailable: the index database cannot be opened.
        FailedPrecondition: the schema needs ``mlstore db upgrade``.
    """
    try:
        current = migrate.current_revision(engine)
    except OperationalError as e:
        raise errors.Unavailable(f"cannot open the index database: {e.orig}") from None
    head = migrate.head_revision()
    if current is None:
        migrate.upgrade(engine)
    elif current != head:
        raise errors.FailedPrecondition(
            f"the index schema is at revision {current}, this mlstore needs {head}: "
            f"run `mlstore db upgrade --store {uri}`"
        )


@contextmanager
def schema_lock(location: StoreLocation, engine: Engine) -> Iterator[None]:
    """Held while a process opens a store, so that one process creates a new store's schemas.

    Why: processes opening a new store at once (a demo and a dashboard started together)
    all find no schema; MLMD's and the index's ``CREATE TABLE`` then fail in all but
    one. An embedded store locks a file next to its databases; a server store takes an
    advisory lock of its database server (released with the session if a process dies).

    Raises:
        Unavailable: the database server cannot be reached.
    """
    if location.directory is not None:
        location.directory.mkdir(parents=True, exist_ok=True)
        with open(location.directory / "open.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield
        return
    db = location.database
    try:
        connection = engine.connect()
    except OperationalError as e:
        raise errors.Unavailable(f"cannot open ML Metadata at {db.host}:{db.port}: {e.orig}") from None
    with connection:
        if db.dialect == "mysql":  # GET_LOCK names are server-wide
            name = f"mlstore-open-{db.database}"[:64]
            if connection.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, _LOCK_WAIT_S)).scalar() != 1:
                raise errors.Unavailable(f"another process has been opening this store for {_LOCK_WAIT_S} s")
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
        else:  # PostgreSQL advisory locks are per database
            connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))


class IndexSync:
    """Copies MLMD executions (with their events and artifacts) into the index."""

    def __init__(self, metadata: Metadata, engine: Engine):
        self.metadata = metadata
        self.engine = engine
        self._folds = metric_tiers.FoldSchedule(engine)
        self._tfma = _TfmaCache()

    def index(self, executions: Sequence[pb.Execution], journal_ids: Sequence[str] = (),
              new_artifact_ids: Sequence[int] | None = None, events: Sequence[pb.Event] | None = None,
              fingerprint: Callable[[list[tuple[int, str]]], object] | None = None) -> int:
        """Indexes ``executions`` (idempotent) and clears ``journal_ids``; returns how many were new.

        For a write this process just made, ``new_artifact_ids`` are its new output
        artifacts (the executions are then known to be new too, which saves two look-ups)
        and ``events`` its events (which saves reading them back). ``fingerprint`` takes
        the ``(id, uri)`` of bytes another writer recorded (default: fingerprinted now).
        """
        return self.index_rows(executions, journal_ids, new_artifact_ids, events, fingerprint)[0]

    def index_rows(self, executions: Sequence[pb.Execution], journal_ids: Sequence[str] = (),
                   new_artifact_ids: Sequence[int] | None = None, events: Sequence[pb.Event] | None = None,
                   fingerprint: Callable[[list[tuple[int, str]]], object] | None = None,
                   new_artifacts: Sequence[pb.Artifact] | None = None) -> tuple[int, list[dict] | None]:
        """As :meth:`index`; also returns the artifact rows this call inserted (``None``
        when another indexer had written them first), so a writer need not read them back.

        ``new_artifacts``: the MLMD records of ``new_artifact_ids`` when the caller has them
        (a write just made). When they are all the events produce and each has a span, the
        rows derive from them alone and the inputs are not read from MLMD (see
        :func:`_outputs_alone`).
        """
        mlmd = self.metadata
        if events is None:
            events = mlmd.call(mlmd.raw.get_events_by_execution_ids, [e.id for e in executions]) if executions else []
        if new_artifacts is not None and _outputs_alone(events, new_artifacts):
            artifacts = list(new_artifacts)
        else:
            artifact_ids = sorted({ev.artifact_id for ev in events})
            artifacts = mlmd.call(mlmd.raw.get_artifacts_by_id, artifact_ids) if artifact_ids else []
        needed = [e.type_id for e in executions] + [a.type_id for a in artifacts]
        type_names = mlmd.type_names(needed)
        by_id = {a.id: a for a in artifacts}
        batch = IndexBatch(list(executions), list(events), by_id, type_names,
                           None if new_artifact_ids is None else frozenset(new_artifact_ids),
                           contexts=mlmd.contexts_of(executions),
                           evaluations=self._tfma.evaluations(artifacts, type_names),
                           known_spans=self._known_spans(events, by_id))
        executions, metric_rows = write_batch_safely(self.engine, batch, journal_ids)
        if metric_rows:
            self._folds.added(metric_rows)
        # Bytes another writer recorded (no digest of mlstore's) are fingerprinted once.
        external = [(a.id, a.uri) for a in artifacts if "digest" not in a.properties
                    and "digest" not in a.custom_properties and a.state == pb.Artifact.LIVE]
        if fingerprint is None:
            fingerprints.record(self.engine, external)
        else:
            fingerprint(external)
        return executions, batch.artifact_rows

    def _known_spans(self, events: Sequence[pb.Event], artifacts: dict[int, pb.Artifact]) -> dict[int, int | None]:
        """Spans in the index of the inputs without a span property (outputs of earlier batches).

        Needed only when an output has no span of its own (TFX's Model); mlstore's own
        writes give every output one, so their write path asks nothing more.
        """
        def has_span(artifact_id: int) -> bool:
            art = artifacts.get(artifact_id)
            return art is not None and ("span" in art.properties or "span" in art.custom_properties)

        if all(has_span(ev.artifact_id) for ev in events if ev.type in tfx.PRODUCED):
            return {}
        ids = sorted({ev.artifact_id for ev in events if ev.type in tfx.READ and not has_span(ev.artifact_id)})
        if not ids:
            return {}
        with self.engine.connect() as connection:
            return spans_by_id(connection, ids)

    def catch_up(self) -> tuple[int, bool]:
        """Indexes executions that reached MLMD but not the index.

        Those of mlstore's own writes that crashed between MLMD and the index (found
        through the journal), and those any other MLMD client (TFX) wrote since the
        index last looked (found by MLMD's last-update time, see :meth:`follow`).
        Returns ``(executions indexed, whether the whole index was rebuilt)``.
        """
        with self.engine.connect() as connection:
            pending = connection.execute(select(t.journal.c.external_id, t.journal.c.created_ms)).all()
            empty_index = connection.scalar(select(t.execution.c.id).limit(1)) is None
        indexed = 0
        if pending:
            found = self.metadata.executions_by_external_ids([external_id for external_id, _ in pending])
            # A row whose execution is not in MLMD may be a write still in flight in another
            # process: it is dropped only once it is older than any MLMD write can take.
            written, cutoff = {e.external_id for e in found}, time.time() * 1000 - IN_FLIGHT_MS
            done = [external_id for external_id, created_ms in pending
                    if external_id in written or created_ms < cutoff]
            indexed = self.index(found, journal_ids=done)
        if empty_index and self._mlmd_has_executions():
            return indexed + self.rebuild(), True
        return indexed + self.follow(), False

    def follow(self) -> int:
        """Indexes the finished executions MLMD changed since the sync position; returns how many.

        Any MLMD client's writes count (TFX writes no journal of mlstore's). An execution
        still running is left for a later call: when it finishes, MLMD updates it again.
        """
        with self.engine.connect() as connection:
            position = connection.scalar(select(t.sync_state.c.value).where(t.sync_state.c.name == _POSITION)) or 0
        since = max(0, position - UPDATE_MARGIN_MS)
        options = metadata_store.ListOptions(filter_query=f"last_update_time_since_epoch >= {since}")
        changed = self.metadata.call(self.metadata.raw.get_executions, list_options=options)
        if not changed:
            return 0
        newest = max(e.last_update_time_since_epoch for e in changed)
        finished = [e for e in changed if e.last_known_state in tfx.FINAL_STATES]
        with self.engine.connect() as connection:
            have = set()
            ids = [e.id for e in finished]
            for i in range(0, len(ids), _MLMD_PAGE):
                have.update(connection.scalars(select(t.execution.c.id).where(
                    t.execution.c.id.in_(ids[i:i + _MLMD_PAGE]))).all())
        new = sorted((e for e in finished if e.id not in have), key=lambda e: e.id)
        indexed = sum(self.index(new[i:i + _MLMD_PAGE]) for i in range(0, len(new), _MLMD_PAGE))
        if newest > position:  # no write when nothing moved: opening a store stays read-only then
            self._set_position(newest)
        return indexed

    def _set_position(self, value: int) -> None:
        with self.engine.begin() as connection:
            updated = connection.execute(update(t.sync_state).where(t.sync_state.c.name == _POSITION)
                                         .values(value=value)).rowcount
            if not updated:
                connection.execute(insert(t.sync_state).values(name=_POSITION, value=value))

    def _mlmd_has_executions(self) -> bool:
        options = metadata_store.ListOptions(limit=1)
        return bool(self.metadata.call(self.metadata.raw.get_executions, list_options=options))

    def rebuild(self) -> int:
        """Rebuilds the whole index from MLMD. Returns the number of executions indexed."""
        with self.engine.begin() as connection:
            for table in (t.blessing, t.metric, t.metric_recent, t.event, t.execution, t.artifact, t.sync_state):
                connection.execute(delete(table))
        executions = sorted(self.metadata.call(self.metadata.raw.get_executions), key=lambda e: e.id)
        finished = [e for e in executions if e.last_known_state in tfx.FINAL_STATES or
                    e.external_id.startswith("mlstore:")]
        # A first attach of a big store fingerprints its bytes in a second process meanwhile.
        with fingerprints.BulkFingerprints(self.engine) if len(finished) > _BULK_FROM else nullcontext() as bulk:
            add = bulk.add if bulk is not None else None
            indexed = sum(self.index(finished[i:i + _MLMD_PAGE], fingerprint=add)
                          for i in range(0, len(finished), _MLMD_PAGE))
        if executions:
            self._set_position(max(e.last_update_time_since_epoch for e in executions))
        return indexed

    def forget(self, external_ids: Sequence[str]) -> None:
        """Drops the journal rows of an MLMD write that failed."""
        with self.engine.begin() as connection:
            connection.execute(delete(t.journal).where(t.journal.c.external_id.in_(list(external_ids))))


def _outputs_alone(events: Sequence[pb.Event], new_artifacts: Sequence[pb.Artifact]) -> bool:
    """True when ``new_artifacts`` are every artifact the events produce and each has a span.

    Then the inputs' MLMD records change no row: an input's span counts only for an
    output without one, and metric and blessing rows are made for new outputs only.
    """
    new = {a.id for a in new_artifacts}
    return all(ev.artifact_id in new for ev in events if ev.type in tfx.PRODUCED) and all(
        "span" in a.properties or "span" in a.custom_properties for a in new_artifacts)


class _TfmaCache:
    """Metrics read from TFMA's files for ModelEvaluations without a ``metrics`` property (TFX's).

    A directory's files are parsed once per state: the result is kept under the
    directory's real path and every entry's (inode, device, size, mtime) there, so
    evaluations whose uris reach the same unchanged files (symlinks, a re-registered
    uri) share one parse, and a changed file is read again.
    """

    _SIZE = 256

    def __init__(self) -> None:
        self._parsed: dict[tuple, dict | None] = {}
        self._lock = threading.Lock()

    def evaluations(self, artifacts: Sequence[pb.Artifact], type_names: dict[int, str]) -> dict[int, dict]:
        out = {}
        for artifact in artifacts:
            if type_names.get(artifact.type_id) != "ModelEvaluation" or "metrics" in artifact.properties \
                    or "metrics" in artifact.custom_properties or artifact.state != pb.Artifact.LIVE:
                continue
            path = fingerprints.local_uri_path(artifact.uri)
            metrics = self._metrics(path) if path is not None else None
            if metrics is not None:
                out[artifact.id] = metrics
        return out

    def _metrics(self, path: Path) -> dict | None:
        try:
            real = path.resolve(strict=True)
            with os.scandir(real) as entries:
                state = tuple(sorted((e.name, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
                                     for e in entries for st in (e.stat(),)))
        except OSError:  # not a directory, gone, a dangling link inside: read uncached
            return _read_tfma(path)
        key = (str(real), state)
        with self._lock:  # a following store's IndexSync may serve several threads
            if key in self._parsed:
                return self._parsed[key]
        metrics = _read_tfma(path)
        with self._lock:
            if len(self._parsed) >= self._SIZE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = metrics
        return metrics


def _read_tfma(path: Path) -> dict | None:
    if path.is_dir() and tfma.is_tfma_output(path):
        try:
            return tfma.read_metrics(path)
        except errors.MlstoreError:
            pass  # unreadable files: the evaluation is indexed without metrics
    return None
