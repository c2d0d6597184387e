"""The one chokepoint around ML Metadata.

Every MLMD call goes through :meth:`Metadata.call`, which retries a transaction a
concurrent writer aborted (bounded exponential backoff with jitter, each retry logged)
and translates every MLMD status error into one of mlstore's typed errors (callers
never see which backend ran). Type registration happens once per connection here.

Why retry: on SQLite, MLMD gives up on a busy database with ``AbortedError`` ("Concurrent
writes aborted after max number of retries"); 8 processes writing at once lost ~1 run in
1,000 that way. An aborted MLMD call rolled back as a whole, so calling it again is safe.
"""

from __future__ import annotations

import base64
import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
from tenacity import (Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, stop_after_delay,
                      wait_random_exponential)

from mlstore import errors, schema
from mlstore._uri import StoreLocation

T = TypeVar("T")

log = logging.getLogger("mlstore.mlmd")

#: Retries of an aborted MLMD transaction: at most this many calls in all, for at most
#: RETRY_MAX_S seconds of waiting, with full-jitter exponential backoff up to 2 s.
RETRY_ATTEMPTS = 12
RETRY_MAX_S = 60.0

_PROPERTY_TYPES = {schema.INT: pb.INT, schema.DOUBLE: pb.DOUBLE, schema.STRING: pb.STRING}

#: Every MLMD status error (all 16 of ml_metadata.errors) and the typed error it becomes.
_ERROR_MAP: dict[type, type[errors.MlstoreError]] = {
    mlmd_errors.CancelledError: errors.Cancelled,
    mlmd_errors.UnknownError: errors.BackendError,
    mlmd_errors.InvalidArgumentError: errors.InvalidArgument,
    mlmd_errors.DeadlineExceededError: errors.DeadlineExceeded,
    mlmd_errors.NotFoundError: errors.NotFound,
    mlmd_errors.AlreadyExistsError: errors.AlreadyExists,
    mlmd_errors.PermissionDeniedError: errors.PermissionDenied,
    mlmd_errors.ResourceExhaustedError: errors.ResourceExhausted,
    mlmd_errors.FailedPreconditionError: errors.FailedPrecondition,
    mlmd_errors.AbortedError: errors.Aborted,
    mlmd_errors.OutOfRangeError: errors.InvalidArgument,
    mlmd_errors.UnimplementedError: errors.Unimplemented,
    mlmd_errors.InternalError: errors.BackendError,
    mlmd_errors.UnavailableError: errors.Unavailable,
    mlmd_errors.DataLossError: errors.IntegrityError,
    mlmd_errors.UnauthenticatedError: errors.Unauthenticated,
}


def typed_error(error: mlmd_errors.StatusError) -> errors.MlstoreError:
    """The mlstore error an MLMD status error becomes (a subclass of the nearest mapped one)."""
    for cls in type(error).__mro__:
        if cls in _ERROR_MAP:
            return _ERROR_MAP[cls](f"ML Metadata: {_first_line(error)}")
    return errors.BackendError(f"ML Metadata: {_first_line(error)}")


def _retry(method: Callable[..., T], args: tuple, kwargs: dict) -> T:
    """Calls ``method`` again after an AbortedError, with backoff; raises the last error."""
    time.sleep(random.uniform(0.0, 0.05))  # jitter: writers aborted together do not retry together
    retrying = Retrying(
        retry=retry_if_exception_type(mlmd_errors.AbortedError),
        stop=stop_after_attempt(RETRY_ATTEMPTS - 1) | stop_after_delay(RETRY_MAX_S),
        wait=wait_random_exponential(multiplier=0.02, max=2.0),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return retrying(method, *args, **kwargs)


def connection_config(location: StoreLocation) -> pb.ConnectionConfig:
    """The MLMD connection config for a directory or database location."""
    config = pb.ConnectionConfig()
    if location.directory is not None:
        path = location.directory / "mlmd.sqlite"
        _enable_wal(path)
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    elif location.database.dialect == "mysql":
        db = location.database
        config.mysql.host = db.host
        config.mysql.port = db.port
        config.mysql.database = db.database
        config.mysql.user = db.user
        config.mysql.password = db.password
    else:
        db = location.database
        config.postgresql.host = db.host
        config.postgresql.port = str(db.port)
        config.postgresql.dbname = db.database
        config.postgresql.user = db.user
        if db.password:
            config.postgresql.password = db.password
    return config


def _enable_wal(path: Path) -> None:
    """Switches the MLMD SQLite file to WAL before MLMD opens it, once.

    Why: MLMD never enables WAL, so a reader blocks a writer and writers busy-wait. WAL
    is a persistent property of the database file, so setting it once makes every later
    MLMD connection (ours or another process's) use it.

    Python's sqlite3 touches the file only while it is not in WAL mode yet (read from the
    header, bytes 18-19 = 2): MLMD links its own copy of SQLite, and when two SQLite copies
    in one process open the same file, closing one releases the other's POSIX locks.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # A -wal/-shm file without its database (the file was deleted) makes SQLite fail
        # with "disk I/O error"; it holds nothing usable without the database, so it is
        # moved aside and the store's source check reports the missing database.
        for suffix in ("-wal", "-shm"):
            leftover = path.with_name(path.name + suffix)
            if leftover.exists():
                leftover.rename(leftover.with_name(f"{leftover.name}.orphaned-{int(time.time())}"))
    if path.exists() and path.stat().st_size >= 100:
        with open(path, "rb") as f:
            header = f.read(20)
        if header[18:20] == b"\x02\x02":
            return
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


class Metadata:
    """An MLMD connection with mlstore's types registered and errors translated."""

    def __init__(self, location: StoreLocation):
        self.location = location
        try:
            self._store = metadata_store.MetadataStore(connection_config(location))
        except (mlmd_errors.StatusError, RuntimeError) as e:  # connect failures are RuntimeError
            where = location.directory or f"{location.database.host}:{location.database.port}"
            raise errors.Unavailable(f"cannot open ML Metadata at {where}: {_first_line(e)}") from None
        self._type_ids: dict[tuple[str, str], int] = {}
        self._type_names: dict[int, str] = {}

    @property
    def raw(self) -> metadata_store.MetadataStore:
        """The underlying MetadataStore, for read calls made through :meth:`call`."""
        return self._store

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls an MLMD method, retrying aborted transactions and translating MLMD errors.

        Raises:
            MlstoreError: the typed error of MLMD's status (:data:`_ERROR_MAP`); Aborted
                when the transaction was still aborted after the retries.
        """
        try:
            try:
                return method(*args, **kwargs)
            except mlmd_errors.AbortedError as first:
                if RETRY_ATTEMPTS <= 1:
                    raise
                log.warning("ML Metadata aborted %s (%s); retrying", getattr(method, "__name__", method),
                            _first_line(first))
                return _retry(method, args, kwargs)
        except mlmd_errors.StatusError as e:
            raise typed_error(e) from e

    def executions_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Execution]:
        """The executions among ``external_ids`` that MLMD has (``[]`` when none: MLMD says NotFound)."""
        try:
            return self.call(self._store.get_executions_by_external_ids, list(external_ids))
        except errors.NotFound:
            return []

    def encode_strings(self, *messages: Any) -> None:
        """Makes string properties storable on every backend, in place.

        Why: MLMD 1.17's PostgreSQL source quotes a value that contains a backslash twice
        (``'E'...''``), a syntax error, so such strings (JSON with ``\\n`` escapes, Windows
        paths) cannot be stored there. On PostgreSQL they are stored base64-encoded with
        :data:`ENCODED_PREFIX`; :func:`get_property` decodes them on every backend.
        """
        if self.location.database is None or self.location.database.dialect != "postgresql":
            return
        for message in messages:
            for values in (message.properties, message.custom_properties):
                for value in values.values():
                    if value.WhichOneof("value") == "string_value" and "\\" in value.string_value:
                        encoded = base64.b64encode(value.string_value.encode("utf-8")).decode("ascii")
                        value.string_value = ENCODED_PREFIX + encoded

    # -- types -----------------------------------------------------------------------

    def type_names(self, needed: Iterable[int] = ()) -> dict[int, str]:
        """MLMD type id -> name (artifact and execution types), cached; refreshed when one
        of ``needed`` is unknown (another process registered a type)."""
        if not self._type_names or any(i not in self._type_names for i in needed):
            names = {t.id: t.name for t in self.call(self._store.get_artifact_types)}
            names.update({t.id: t.name for t in self.call(self._store.get_execution_types)})
            self._type_names = names
        return self._type_names

    def artifact_type_id(self, name: str) -> int:
        """Registers (once) and returns the id of mlstore artifact type ``name``."""
        key = ("artifact", name)
        if key not in self._type_ids:
            definition = schema.artifact_type(name)
            t = pb.ArtifactType(name=name, description=definition.description)
            _add_properties(t, definition.all_properties())
            self._type_ids[key] = self.call(
                self._store.put_artifact_type, t, can_add_fields=True, can_omit_fields=True
            )
        return self._type_ids[key]

    def execution_type_id(self, name: str) -> int:
        """Registers (once) and returns the id of execution type ``name``."""
        key = ("execution", name)
        if key not in self._type_ids:
            t = pb.ExecutionType(name=name)
            _add_properties(t, schema.COMMON_EXECUTION_PROPERTIES)
            self._type_ids[key] = self.call(
                self._store.put_execution_type, t, can_add_fields=True, can_omit_fields=True
            )
        return self._type_ids[key]

    def context_type_id(self, name: str) -> int:
        """Registers (once) and returns the id of context type ``name``."""
        key = ("context", name)
        if key not in self._type_ids:
            t = pb.ContextType(name=name)
            self._type_ids[key] = self.call(
                self._store.put_context_type, t, can_add_fields=True, can_omit_fields=True
            )
        return self._type_ids[key]


def _add_properties(message: Any, properties: dict[str, str]) -> None:
    for key, kind in properties.items():
        message.properties[key] = _PROPERTY_TYPES[kind]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def set_property(target: Any, key: str, value: object) -> None:
    """Sets an MLMD (custom) property map entry from a Python value."""
    if isinstance(value, bool):
        target[key].int_value = int(value)
    elif isinstance(value, int):
        target[key].int_value = value
    elif isinstance(value, float):
        target[key].double_value = value
    else:
        target[key].string_value = str(value)


#: Prefix of string values stored base64-encoded (see :meth:`Metadata.encode_strings`).
ENCODED_PREFIX = "mlstore:b64:"


def get_property(value: pb.Value) -> object:
    """The Python value of an MLMD property value."""
    kind = value.WhichOneof("value")
    if kind == "string_value" and value.string_value.startswith(ENCODED_PREFIX):
        return base64.b64decode(value.string_value[len(ENCODED_PREFIX):]).decode("utf-8")
    return getattr(value, kind) if kind else None
