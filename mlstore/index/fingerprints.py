"""Fingerprints of bytes mlstore did not write (TFX's artifact directories).

mlstore's own blobs are content-addressed: the digest is in MLMD and the bytes are
found by it. An artifact another writer recorded has only a ``uri``; when the index
first sees it, the manifest digest of what is there is recorded on mlstore's side
(``mlstore_fingerprint``; MLMD is never touched) so ``verify`` can tell later whether
the bytes changed.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from mlstore import errors
from mlstore.artifact_bytes import external_path
from mlstore.blobs import collect_files, manifest_of
from mlstore.index import tables as t


_PARALLEL_FROM = 16
_WORKERS = min(8, (os.cpu_count() or 2) * 2)


@dataclass(frozen=True)
class Fingerprint:
    artifact_id: int
    digest: str
    size: int
    files: int


def local_uri_path(uri: str) -> Path | None:
    """The local path of ``uri`` (a path or ``file://``), None for other schemes."""
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return Path(parts.path if parts.scheme else uri)
    return None


def take(artifact_id: int, uri: str) -> Fingerprint | None:
    """The fingerprint of the bytes at ``uri`` now; None when there are none to hash."""
    path = local_uri_path(uri)
    if path is None:
        return None
    try:
        manifest = manifest_of(collect_files(path))
    except (errors.InvalidArgument, errors.NotFound, OSError):
        return None
    return Fingerprint(artifact_id, manifest.digest, manifest.size, len(manifest.entries))


def take_all(pairs: Sequence[tuple[int, str]]) -> list[Fingerprint]:
    """Fingerprints of ``(artifact id, uri)`` pairs, those with bytes to hash."""
    if len(pairs) > _PARALLEL_FROM:  # hashing and stat release the GIL
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            found = list(pool.map(lambda pair: take(*pair), pairs))
    else:
        found = [take(i, uri) for i, uri in pairs]
    return [fp for fp in found if fp is not None]


def _not_fingerprinted(engine: Engine, pairs: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        have = set(connection.scalars(select(t.fingerprint.c.artifact_id).where(
            t.fingerprint.c.artifact_id.in_([i for i, _ in pairs]))).all())
    return [(i, uri) for i, uri in pairs if i not in have]


def record(engine: Engine, artifacts: Iterable[tuple[int, str]]) -> int:
    """Fingerprints ``(artifact id, uri)`` pairs not fingerprinted yet; returns how many were taken."""
    pairs = list(artifacts)
    if not pairs:
        return 0
    taken = take_all(_not_fingerprinted(engine, pairs))
    _insert(engine, taken)
    return len(taken)


class BulkFingerprints:
    """Fingerprints taken by a helper process while this one builds the index (a first
    attach: tens of thousands of artifact directories), recorded when the block ends.

    Hashing is GIL-bound Python work as much as I/O; in a second process it runs beside
    the index build instead of after it. Without a process (``spawn`` refused) it falls
    back to :func:`record` inline. Use as a context manager; :meth:`add` per page.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        self._queued: set[int] = set()  # an artifact read by several pages is hashed once
        self.taken = 0

    def __enter__(self) -> "BulkFingerprints":
        try:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        except (OSError, ValueError):
            self._pool = None
        return self

    def add(self, artifacts: Iterable[tuple[int, str]]) -> None:
        """Queues ``(artifact id, uri)`` pairs (those not fingerprinted yet) for hashing."""
        pairs = list(artifacts)
        if not pairs:
            return
        if self._pool is None:
            self.taken += record(self.engine, pairs)
            return
        todo = [(i, uri) for i, uri in _not_fingerprinted(self.engine, pairs) if i not in self._queued]
        self._queued.update(i for i, _ in todo)
        if todo:
            self._futures.append(self._pool.submit(take_all, todo))

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._pool is None:
            return
        try:
            if exc_type is None:
                found = [fp for future in self._futures for fp in future.result()]
                _insert(self.engine, found)
                self.taken += len(found)
        finally:
            self._pool.shutdown(wait=exc_type is None, cancel_futures=True)


def _insert(engine: Engine, taken: Sequence[Fingerprint]) -> None:
    if taken:
        now = int(time.time() * 1000)
        with engine.begin() as connection:
            connection.execute(insert(t.fingerprint), [
                {"artifact_id": fp.artifact_id, "digest": fp.digest, "size": fp.size, "files": fp.files,
                 "created_ms": now} for fp in taken])


def recorded(engine: Engine, artifact_ids: Sequence[int]) -> dict[int, Fingerprint]:
    """The recorded fingerprints of ``artifact_ids``."""
    if not artifact_ids:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(select(t.fingerprint).where(t.fingerprint.c.artifact_id.in_(list(artifact_ids))))
        return {r.artifact_id: Fingerprint(r.artifact_id, r.digest, r.size, r.files) for r in rows}


def check(engine: Engine, artifacts: Sequence, roots: Sequence[str]) -> tuple[list, dict, dict]:
    """Re-hashes external artifacts (under the read ``roots``) against their fingerprints.

    Returns ``(hashed artifacts, {node: why it could not be hashed}, {node: [problem]})``.
    """
    recorded_now = recorded(engine, [a.id for a in artifacts])
    hashed, unhashed, corrupted = [], {}, {}
    for artifact in artifacts:
        if not _readable(artifact, roots, unhashed):
            continue
        before = recorded_now.get(artifact.id)
        if before is None:
            unhashed[artifact.node_id] = ("no fingerprint: its bytes were missing when it was indexed"
                                          if local_uri_path(artifact.uri) is not None else
                                          f"bytes at {artifact.uri!r} are not on a local file system")
            continue
        now = take(artifact.id, artifact.uri)
        hashed.append(artifact)
        if now is None:
            corrupted[artifact.node_id] = [f"{artifact.uri}: missing"]
        elif now.digest != before.digest:
            corrupted[artifact.node_id] = [f"{artifact.uri}: content changed since it was indexed "
                                           f"({now.files} files, {now.size} bytes; were {before.files}, {before.size})"]
    return hashed, unhashed, corrupted


def _readable(artifact, roots: Sequence[str], unhashed: dict) -> bool:
    try:
        external_path(artifact.uri, roots, artifact.node_id)
    except errors.PermissionDenied as e:
        unhashed[artifact.node_id] = str(e)
        return False
    except errors.NotFound:
        pass  # hashed below: gone bytes are a finding
    return True


def verified_path(engine: Engine, artifact, roots: Sequence[str]) -> Path:
    """The local path of an external artifact's bytes, after checking them against its fingerprint.

    Bytes that had no fingerprint yet (missing when the artifact was indexed) are
    fingerprinted now, on first use, and checked against that from then on.

    Raises:
        NotFound: the bytes are gone. IntegrityError: they changed since they were fingerprinted.
        PermissionDenied: the uri is outside the store's read roots.
    """
    path = external_path(artifact.uri, roots, artifact.node_id)  # PermissionDenied / NotFound
    now = take(artifact.id, str(path))
    if now is None:
        raise errors.NotFound(f"{artifact.node_id}: no bytes at {artifact.uri}")
    before = recorded(engine, [artifact.id]).get(artifact.id)
    if before is None:
        with engine.connect() as connection:
            indexed = connection.scalar(select(t.artifact.c.id).where(t.artifact.c.id == artifact.id)) is not None
        if indexed:
            _insert(engine, [now])
    elif now.digest != before.digest:
        raise errors.IntegrityError(f"{artifact.node_id}: the bytes at {artifact.uri} changed since they were "
                                    f"fingerprinted (now {now.digest[:19]}, were {before.digest[:19]})")
    return path
