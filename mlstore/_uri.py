"""Store URIs: where MLMD, the index and the blobs of a store live.

Accepted forms (see README "Store URIs"):

* a directory path or ``file://PATH`` — the embedded store: ``PATH/mlmd.sqlite``
  (MLMD), ``PATH/index.sqlite`` (the index) and ``PATH/blobs/`` (artifact bytes);
* the path of an existing MLMD SQLite file (``metadata.sqlite`` as TFX's LocalDagRunner
  writes it), or ``sqlite:///ABS/PATH`` — an *attached* MLMD database that another
  writer (TFX, Kubeflow) owns: mlstore keeps its index and blobs in the sibling
  directory ``PATH.mlstore/`` (or ``?mlstore_dir=DIR``) and never changes the file's
  journal mode or types;
* ``mysql://user:pass@host:port/db`` and ``postgresql://user[:pass]@host:port/db`` —
  MLMD and the index share that database (the index tables are prefixed ``mlstore_``);
  the artifact root comes from ``?artifact_root=DIR_OR_FSSPEC_URL`` or
  ``MLSTORE_ARTIFACT_ROOT``;
* ``grpc://host:port`` — a remote store served by ``mlstore serve``.

With no URI, ``MLSTORE_URI`` is used, else ``./.mlstore``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mlstore.errors import InvalidArgument

DEFAULT_URI = "./.mlstore"


@dataclass(frozen=True)
class DatabaseLocation:
    """A MySQL/MariaDB or PostgreSQL database holding MLMD and the index."""

    dialect: str  # "mysql" or "postgresql"
    host: str
    port: int
    database: str
    user: str
    password: str


@dataclass(frozen=True)
class StoreLocation:
    """Parsed store URI. Exactly one of ``directory``, ``database``, ``server`` is set.

    ``directory`` is where mlstore keeps its own files (index, blobs, locks); for an
    embedded store it also holds MLMD (``mlmd_file``). An attached MLMD file
    (``attached=True``) belongs to another writer.
    """

    uri: str
    artifact_root: str
    directory: Path | None = None
    database: DatabaseLocation | None = None
    server: str | None = None
    mlmd_file: Path | None = None
    attached: bool = False

    def __post_init__(self) -> None:
        if self.directory is not None and self.mlmd_file is None:  # an embedded store keeps MLMD inside
            object.__setattr__(self, "mlmd_file", self.directory / "mlmd.sqlite")


def resolve_uri(uri: str | None) -> str:
    """Returns ``uri``, else ``$MLSTORE_URI``, else the default ``./.mlstore``."""
    return uri or os.environ.get("MLSTORE_URI") or DEFAULT_URI


def parse_store_uri(uri: str | None) -> StoreLocation:
    """Parses a store URI (or the default) into a :class:`StoreLocation`.

    Raises:
        InvalidArgument: the URI has an unknown scheme or misses a required part.
    """
    uri = resolve_uri(uri)
    if "://" not in uri:
        return _directory_location(uri, uri)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _attached_location(uri, unquote(parts.netloc + parts.path), parse_qs(parts.query))
    if scheme == "file":
        return _directory_location(uri, unquote(parts.netloc + parts.path))
    if scheme in ("mysql", "mariadb", "postgresql", "postgres"):
        return _database_location(uri, parts)
    if scheme == "grpc":
        if not parts.hostname or not parts.port:
            raise InvalidArgument(f"store URI {uri!r}: grpc:// needs host:port, e.g. grpc://127.0.0.1:50051")
        return StoreLocation(uri=uri, artifact_root="", server=f"{parts.hostname}:{parts.port}")
    raise InvalidArgument(
        f"store URI {uri!r}: unknown scheme {parts.scheme!r}; use a directory, an MLMD SQLite file, "
        "sqlite:///, mysql://, postgresql:// or grpc://"
    )


def _directory_location(uri: str, path: str) -> StoreLocation:
    if not path:
        raise InvalidArgument(f"store URI {uri!r}: empty directory path")
    directory = Path(path).expanduser().absolute()
    if directory.is_file():
        return _attached_location(uri, str(directory), {})
    if directory.exists() and not directory.is_dir():
        raise InvalidArgument(f"store URI {uri!r}: {directory} exists and is not a directory")
    return StoreLocation(uri=uri, artifact_root=str(directory / "blobs"), directory=directory,
                         mlmd_file=directory / "mlmd.sqlite")


_CHECKED_FILES: set[Path] = set()  # attached MLMD files whose header this process has read

#: Suffix of the directory next to an attached MLMD file where mlstore keeps its files.
ATTACHED_DIR_SUFFIX = ".mlstore"


def _attached_location(uri: str, path: str, query: dict) -> StoreLocation:
    """An MLMD SQLite file another writer owns; mlstore's files go to ``PATH.mlstore/``."""
    unknown = set(query) - {"mlstore_dir"}
    if unknown:
        raise InvalidArgument(f"store URI {uri!r}: unknown option(s) {sorted(unknown)}; known: mlstore_dir")
    if not path:
        raise InvalidArgument(f"store URI {uri!r}: empty file path")
    mlmd_file = Path(path).expanduser().absolute()
    if not mlmd_file.is_file():
        raise InvalidArgument(f"store URI {uri!r}: {mlmd_file} is not an existing ML Metadata SQLite file")
    if mlmd_file not in _CHECKED_FILES:
        # Read once per process: closing a descriptor of a SQLite file drops this process's
        # locks on it, those of MLMD connections already open included.
        with open(mlmd_file, "rb") as f:
            header = f.read(16)
        if header != b"SQLite format 3\x00":
            raise InvalidArgument(f"store URI {uri!r}: {mlmd_file} is a file, not a directory or an ML Metadata "
                                  "SQLite database")
        _CHECKED_FILES.add(mlmd_file)
    own = (query.get("mlstore_dir") or [""])[0]
    directory = Path(own).expanduser().absolute() if own else mlmd_file.with_name(mlmd_file.name + ATTACHED_DIR_SUFFIX)
    return StoreLocation(uri=uri, artifact_root=str(directory / "blobs"), directory=directory,
                         mlmd_file=mlmd_file, attached=True)


def _database_location(uri: str, parts) -> StoreLocation:
    dialect = "mysql" if parts.scheme.lower() in ("mysql", "mariadb") else "postgresql"
    database = parts.path.lstrip("/")
    if not parts.hostname or not database or "/" in database:
        raise InvalidArgument(
            f"store URI {_redact(uri)!r}: expected {dialect}://user:pass@host:port/database"
        )
    try:
        port = parts.port or (3306 if dialect == "mysql" else 5432)
    except ValueError as e:
        raise InvalidArgument(f"store URI {_redact(uri)!r}: bad port ({e})") from None
    query = parse_qs(parts.query)
    unknown = set(query) - {"artifact_root"}
    if unknown:
        raise InvalidArgument(f"store URI {_redact(uri)!r}: unknown option(s) {sorted(unknown)}")
    root = (query.get("artifact_root") or [os.environ.get("MLSTORE_ARTIFACT_ROOT", "")])[0]
    if not root:
        raise InvalidArgument(
            f"store URI {_redact(uri)!r} needs an artifact root: add ?artifact_root=DIR_OR_URL "
            "or set MLSTORE_ARTIFACT_ROOT"
        )
    location = DatabaseLocation(
        dialect=dialect,
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )
    return StoreLocation(uri=uri, artifact_root=root, database=location)


def _redact(uri: str) -> str:
    """The URI with its password replaced, for error messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
