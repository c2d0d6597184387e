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
import json
import logging
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2 as pb
from tenacity import (Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, stop_after_delay,
                      wait_random_exponential)

from mlstore import errors, schema
from mlstore.tfx import records as tfx_records
from mlstore._uri import StoreLocation

T = TypeVar("T")

log = logging.getLogger("mlstore.mlmd")

#: Retries of an aborted MLMD transaction: at most this many calls in all, for at most
#: RETRY_MAX_S seconds of waiting, with full-jitter exponential backoff up to 2 s.
RETRY_ATTEMPTS = 12
RETRY_MAX_S = 60.0

_PROPERTY_TYPES = {schema.INT: pb.INT, schema.DOUBLE: pb.DOUBLE, schema.STRING: pb.STRING}
_KIND_NAMES = {pb.INT: schema.INT, pb.DOUBLE: schema.DOUBLE, pb.STRING: schema.STRING, pb.BOOLEAN: "BOOLEAN",
               pb.STRUCT: "STRUCT", pb.PROTO: "PROTO"}

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
    if location.mlmd_file is not None:
        if location.attached:
            # Another writer's file: its journal mode is its owner's choice, and it must exist.
            config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE
        else:
            _enable_wal(location.mlmd_file)
            config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        config.sqlite.filename_uri = str(location.mlmd_file)
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


#: MLMD files this process has seen in WAL mode. Why: closing *any* file descriptor of a
#: SQLite file releases every POSIX lock this process holds on it, including those of
#: MLMD connections already open; so the header is read at most once per process.
_WAL_SET: set[Path] = set()


def _enable_wal(path: Path) -> None:
    """Switches the MLMD SQLite file to WAL before MLMD opens it, once.

    Why: MLMD never enables WAL, so a reader blocks a writer and writers busy-wait. WAL
    is a persistent property of the database file, so setting it once makes every later
    MLMD connection (ours or another process's) use it.

    Python's sqlite3 touches the file only while it is not in WAL mode yet (read from the
    header, bytes 18-19 = 2): MLMD links its own copy of SQLite, and when two SQLite copies
    in one process open the same file, closing one releases the other's POSIX locks.
    """
    if path in _WAL_SET:
        return
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
            _WAL_SET.add(path)
            return
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


class Metadata:
    """An MLMD connection with mlstore's types registered and errors translated."""

    def __init__(self, location: StoreLocation, index_engine=None):
        """Connects to MLMD at ``location``; ``index_engine`` (the store's index) also reads
        MLMD's tables when they share a server database."""
        self.location = location
        self._index_engine = index_engine
        try:
            self._store = metadata_store.MetadataStore(connection_config(location))
        except (mlmd_errors.StatusError, RuntimeError) as e:  # connect failures are RuntimeError
            where = location.mlmd_file or f"{location.database.host}:{location.database.port}"
            raise errors.Unavailable(f"cannot open ML Metadata at {where}: {_first_line(e)}") from None
        self._types: dict[tuple[str, str], StoredType] = {}
        self._reader = None  # an engine reading MLMD's tables (see contexts_of)
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

    def contexts_of(self, executions: Sequence[pb.Execution]) -> dict[int, dict[str, str]]:
        """Execution id -> ``{"pipeline": ..., "pipeline_run": ..., "node": ...}`` from MLMD's
        contexts, for executions without a ``pipeline`` property (TFX records these only as
        contexts; mlstore's own writes carry them as properties).

        Read with one SQL join over MLMD's tables (see :mod:`mlstore.index.mlmd_tables`).
        """
        from mlstore.index import mlmd_tables  # noqa: PLC0415 - the index package imports this module

        needed = [e.id for e in executions if "pipeline" not in e.properties]
        if not needed:
            return {}
        if self._reader is None:
            engine = self._index_engine
            if engine is None and self.location.mlmd_file is None:
                from mlstore.index.sync import index_engine  # noqa: PLC0415

                engine = self._index_engine = index_engine(self.location)
            self._reader = mlmd_tables.mlmd_reader(self.location, engine)
        return mlmd_tables.contexts_of(self._reader, needed, (
            tfx_records.PIPELINE_CONTEXT, tfx_records.RUN_CONTEXT, tfx_records.NODE_CONTEXT))

    # -- types -----------------------------------------------------------------------

    def type_names(self, needed: Iterable[int] = ()) -> dict[int, str]:
        """MLMD type id -> name (artifact and execution types), cached; refreshed when one
        of ``needed`` is unknown (another process registered a type)."""
        if not self._type_names or any(i not in self._type_names for i in needed):
            names = {t.id: t.name for t in self.call(self._store.get_artifact_types)}
            names.update({t.id: t.name for t in self.call(self._store.get_execution_types)})
            self._type_names = names
        return self._type_names

    def artifact_type(self, name: str) -> "StoredType":
        """The id and type properties of artifact type ``name``, registering it when new.

        A type that exists is used exactly as stored, whoever created it: mlstore never
        adds properties to (or otherwise changes) a type, because TFX maps a type to its
        own artifact class only when name and properties match. A new type gets TFX's
        exact properties for TFX's standard names, else mlstore's own definition.
        """
        key = ("artifact", name)
        if key not in self._types:
            self._types[key] = self._stored_or_new(
                self._store.get_artifact_type, self._store.put_artifact_type,
                lambda: _new_artifact_type(name), name)
        return self._types[key]

    def artifact_type_id(self, name: str) -> int:
        """The id of artifact type ``name`` (see :meth:`artifact_type`)."""
        return self.artifact_type(name).id

    def execution_type(self, name: str) -> "StoredType":
        """The id and properties of execution type ``name``, registered when new (never changed)."""
        key = ("execution", name)
        if key not in self._types:
            def new() -> pb.ExecutionType:
                t = pb.ExecutionType(name=name)
                _add_properties(t, schema.COMMON_EXECUTION_PROPERTIES)
                return t
            self._types[key] = self._stored_or_new(self._store.get_execution_type, self._store.put_execution_type,
                                                   new, name)
        return self._types[key]

    def execution_type_id(self, name: str) -> int:
        """The id of execution type ``name`` (see :meth:`execution_type`)."""
        return self.execution_type(name).id

    def context_type_id(self, name: str) -> int:
        """The id of context type ``name``, registered (without properties, as TFX does) when new."""
        key = ("context", name)
        if key not in self._types:
            self._types[key] = self._stored_or_new(self._store.get_context_type, self._store.put_context_type,
                                                   lambda: pb.ContextType(name=name), name)
        return self._types[key].id

    def _stored_or_new(self, get: Callable, put: Callable, new: Callable[[], Any], name: str) -> "StoredType":
        try:
            stored = self.call(get, name)
        except errors.NotFound:
            try:
                # No can_add_fields: if another process registered the type meanwhile
                # with other properties, this fails instead of changing its type.
                self.call(put, new())
            except errors.AlreadyExists:
                pass
            stored = self.call(get, name)
        return StoredType(stored.id, {k: _KIND_NAMES[v] for k, v in stored.properties.items() if v in _KIND_NAMES})


@dataclass(frozen=True)
class StoredType:
    """An MLMD type as the database holds it: its id and its type properties (name -> kind)."""

    id: int
    properties: dict[str, str]


def _new_artifact_type(name: str) -> pb.ArtifactType:
    """A new artifact type: TFX's exact properties for a TFX name, else mlstore's definition."""
    if name in tfx_records.STANDARD_ARTIFACT_TYPES:
        t = pb.ArtifactType(name=name)
        _add_properties(t, tfx_records.STANDARD_ARTIFACT_TYPES[name])
        return t
    definition = schema.artifact_type(name)
    t = pb.ArtifactType(name=name, description=definition.description)
    _add_properties(t, definition.all_properties())
    return t


def _add_properties(message: Any, properties: dict[str, str]) -> None:
    for key, kind in properties.items():
        message.properties[key] = _PROPERTY_TYPES[kind]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def set_field(message: Any, declared: dict[str, str], key: str, value: object) -> None:
    """Sets ``key`` as a type property when the stored type declares it with a fitting kind,
    else as a custom property (where TFX keeps everything but a type's own properties)."""
    kind = declared.get(key)
    fits = kind is not None and (
        (kind == schema.INT and isinstance(value, int)) or (kind == schema.DOUBLE and isinstance(value, (int, float)))
        or (kind == schema.STRING and isinstance(value, str)))
    if fits and kind == schema.DOUBLE:
        value = float(value)
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, sort_keys=True)
    set_property(message.properties if fits else message.custom_properties, key, value)


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
    """The Python value of an MLMD property value, JSON-serializable for every MLMD type.

    A ``struct_value`` (TFX's ExampleStatistics ``sample_rate_by_split``) becomes a dict,
    a ``proto_value`` ``{"@type": type URL, "base64": bytes}``, a ``bool_value`` a bool.
    """
    kind = value.WhichOneof("value")
    if kind == "string_value" and value.string_value.startswith(ENCODED_PREFIX):
        return base64.b64decode(value.string_value[len(ENCODED_PREFIX):]).decode("utf-8")
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    if kind == "proto_value":
        return {"@type": value.proto_value.type_url, "base64": base64.b64encode(value.proto_value.value).decode()}
    return getattr(value, kind) if kind else None
