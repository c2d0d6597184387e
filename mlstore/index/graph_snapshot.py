"""A file snapshot of the lineage cache, so a new process answers its first lineage
query without reading every node and edge from the index.

Why: building :class:`~mlstore.index.graph_cache.GraphCache` from the index tables
reads every event row through SQLAlchemy (~1.4 s at 10,000 days); a CLI call, a
notebook or a new replica paid that on its first query. Reading the same arrays back
from one uncompressed ``.npz`` (numpy's zip of ``.npy`` files) costs milliseconds.

Never a wrong answer: a snapshot is used only when

* it reads back whole: every member of the zip matches its CRC-32, which ``zipfile``
  checks on reading it (a torn, truncated or corrupted file is ignored, logged, and
  replaced by the next write);
* it was taken of this index: the same MLMD fingerprint *and* the same time it was
  recorded (``mlstore_store_source``); ``reindex`` records the fingerprint anew, so a
  snapshot of the index before a rebuild, or of another store, is never used. An index
  with no fingerprint yet (a new store until it is reopened after its first write) is
  not snapshotted;
* the index still ends where the snapshot does: the event with the snapshot's last id
  joins the same two nodes with the same role and direction, and the newest artifact
  and execution it knows have the same node keys.

Events and nodes are only appended (see graph_cache), so what was indexed after the
snapshot is then read as usual: only rows with a higher id.

Where (:func:`snapshot_path`): next to the index, ``DIR/lineage-cache.npz``, for a
directory store or an attached MLMD file. A store on a database server (MySQL/MariaDB,
PostgreSQL) has no local directory; its snapshot lives in ``$MLSTORE_CACHE_DIR`` when
that is set (one file per database, named by a hash of dialect, host, port and
database; the checks above reject a file of a different or rebuilt database), and is
skipped otherwise: each process then builds the cache on its first query, as before.
mlstore writes nowhere outside a store's own locations unless told where.

Written atomically (a temporary file in the same directory renamed over the old one),
by the process whose cache holds :data:`REWRITE_AFTER` more events than the snapshot it
started from; a failed write (read-only directory, full disk) is logged and changes
nothing else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from mlstore._uri import StoreLocation
from mlstore.index import tables as t

log = logging.getLogger(__name__)

FORMAT = 1
FILE_NAME = "lineage-cache.npz"
CACHE_DIR_ENV = "MLSTORE_CACHE_DIR"

#: A cache holding this many more events than its snapshot writes a new one (~300 days
#: of a five-step daily pipeline; reading that many rows from the index costs ~50 ms).
REWRITE_AFTER = 4096

_HEADER = "header"

#: What a snapshot holds of the cache: per node, per edge (plus ``edge_order``, the edges
#: in the order graphs list them), and the code dictionaries.
NODE_ARRAYS = ("keys", "type_codes", "name_codes", "state_codes")
EDGE_ARRAYS = ("src", "dst", "is_output", "role_codes")
LISTS = ("type_names", "name_values", "state_names", "roles")


@dataclass(frozen=True)
class Stamp:
    """Where the snapshotted index ended, and which index it was."""

    identity: str  # MLMD fingerprint and when it was recorded ("" before one is recorded)
    last_event: int
    last_edge: tuple[int, int, bool, str] | None  # (src key, dst key, is_output, role) of last_event
    last_artifact: int
    last_artifact_node: int | None
    last_execution: int
    last_execution_node: int | None


@dataclass(frozen=True)
class Snapshot:
    stamp: Stamp
    arrays: dict[str, np.ndarray]
    lists: dict[str, list]  # the cache's code dictionaries (type names, names, states, roles)


def snapshot_path(location: StoreLocation) -> Path | None:
    """Where the store at ``location`` keeps its lineage snapshot (None: not persisted)."""
    if location.directory is not None:
        return location.directory / FILE_NAME
    cache_dir = os.environ.get(CACHE_DIR_ENV)
    if location.database is None or not cache_dir:
        return None
    db = location.database
    name = hashlib.sha256(f"{db.dialect}\0{db.host}\0{db.port}\0{db.database}".encode()).hexdigest()[:32]
    return Path(cache_dir) / f"lineage-{name}.npz"


def index_identity(fingerprint: str | None, recorded_ms: int | None) -> str:
    return f"{fingerprint}@{recorded_ms}" if fingerprint else ""


def identity_columns():
    """Scalar subqueries for :func:`index_identity`'s arguments (the MLMD fingerprint row)."""
    from mlstore.index.source import KEY  # noqa: PLC0415 - source imports MLMD; keep this module light

    s = t.store_source.c
    return (select(s.fingerprint).where(s.key == KEY).scalar_subquery(),
            select(s.recorded_ms).where(s.key == KEY).scalar_subquery())


def fits_together(arrays: dict[str, np.ndarray], lists: dict[str, list]) -> bool:
    """Whether a snapshot's arrays fit together (lengths, indices and codes in range)."""
    if set(arrays) != {*NODE_ARRAYS, *EDGE_ARRAYS, "edge_order"} or set(lists) != set(LISTS):
        return False
    nodes, edges = len(arrays["keys"]), len(arrays["src"])
    if any(len(arrays[n]) != nodes for n in NODE_ARRAYS) or any(
            len(arrays[n]) != edges for n in (*EDGE_ARRAYS, "edge_order")):
        return False
    ranges = [("src", nodes), ("dst", nodes), ("edge_order", edges), ("type_codes", len(lists["type_names"])),
              ("name_codes", len(lists["name_values"])), ("state_codes", len(lists["state_names"])),
              ("role_codes", len(lists["roles"]))]
    return all(not len(arrays[n]) or (0 <= arrays[n].min() and arrays[n].max() < size) for n, size in ranges)


def save(path: Path, snapshot: Snapshot) -> bool:
    """Writes ``snapshot`` atomically; False (and a log line) when it cannot be written."""
    header = {"format": FORMAT, "stamp": snapshot.stamp.__dict__, "lists": snapshot.lists,
              "arrays": sorted(snapshot.arrays)}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as out:
            np.savez(out, **snapshot.arrays,
                     **{_HEADER: np.frombuffer(json.dumps(header).encode(), np.uint8)})
        os.replace(temporary, path)
        return True
    except OSError as e:
        log.warning("lineage cache snapshot not written to %s: %s", path, e)
        temporary.unlink(missing_ok=True)
        return False


def load(path: Path) -> Snapshot | None:
    """The snapshot at ``path`` if it reads back whole and intact, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as files:
            header = json.loads(files[_HEADER].tobytes())
            if header.get("format") != FORMAT:
                raise ValueError(f"format {header.get('format')!r}, expected {FORMAT}")
            arrays = {name: files[name] for name in header["arrays"]}  # BadZipFile: a CRC-32 differs
        stamp = header["stamp"]
        edge = stamp["last_edge"]
        stamp["last_edge"] = tuple(edge) if edge is not None else None
        return Snapshot(Stamp(**stamp), arrays, header["lists"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        log.warning("lineage cache snapshot %s is unreadable (%s); rebuilding it from the index", path, e)
        return None


def matches_index(connection, stamp: Stamp, identity: str, last_event: int) -> bool:
    """True when the index is the one ``stamp`` was taken of and still ends the same way."""
    if stamp.identity != identity or stamp.last_event > last_event:
        return False
    ev, a, e = t.event.c, t.artifact.c, t.execution.c
    if stamp.last_event:
        row = connection.execute(select(ev.src, ev.dst, ev.is_output, ev.role)
                                 .where(ev.id == stamp.last_event)).first()
        if row is None or (row[0], row[1], bool(row[2]), row[3]) != stamp.last_edge:
            return False
    for table_id, node, last, expected in ((a.id, a.node, stamp.last_artifact, stamp.last_artifact_node),
                                           (e.id, e.node, stamp.last_execution, stamp.last_execution_node)):
        if last and connection.scalar(select(node).where(table_id == last)) != expected:
            return False
    return True

