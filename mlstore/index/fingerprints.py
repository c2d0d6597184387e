"""Fingerprints of bytes mlstore did not write (TFX's artifact directories).

mlstore's own blobs are content-addressed: the digest is in MLMD and the bytes are
found by it. An artifact another writer recorded has only a ``uri``; when the index
first sees it, the manifest digest of what is there is recorded on mlstore's side
(``mlstore_fingerprint``; MLMD is never touched) so ``verify`` can tell later whether
the bytes changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

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
    the index build instead of after it. The helper is ``python -m
    mlstore.index.fingerprint_worker`` fed pages over a pipe, not a multiprocessing
    child: that would import the caller's ``__main__`` again, so a script without an
    ``if __name__ == "__main__"`` guard would run twice. The helper holds at most
    :data:`_IN_FLIGHT` pages; when the index build is done first, this process hashes
    the pages not handed over yet, newest first, so both work until the end. Without a
    helper (it cannot start, or dies) every page is hashed here. Use as a context
    manager; :meth:`add` per page.
    """

    _IN_FLIGHT = 2

    def __init__(self, engine: Engine):
        self.engine = engine
        self._proc: subprocess.Popen | None = None
        self._queued: set[int] = set()  # an artifact read by several pages is hashed once
        self._pages: deque[list[tuple[int, str]]] = deque()  # not handed to the helper yet
        self._sent: deque[list[tuple[int, str]]] = deque()  # handed over, not answered yet
        self._found: list[Fingerprint] = []
        self._cv = threading.Condition()
        self._closing = self._dead = False
        self._threads: list[threading.Thread] = []
        self.taken = 0

    def __enter__(self) -> "BulkFingerprints":
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # this mlstore, not another install
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "mlstore.index.fingerprint_worker"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                          text=True, encoding="utf-8", errors="surrogatepass")
        except OSError:
            self._proc = None
            return self
        self._threads = [threading.Thread(target=target, daemon=True, name=f"mlstore-fingerprints-{target.__name__}")
                         for target in (self._feed, self._collect)]
        for thread in self._threads:
            thread.start()
        return self

    def add(self, artifacts: Iterable[tuple[int, str]]) -> None:
        """Queues ``(artifact id, uri)`` pairs (those not fingerprinted yet) for hashing."""
        pairs = list(artifacts)
        if not pairs:
            return
        if self._proc is None:
            self.taken += record(self.engine, pairs)
            return
        todo = [(i, uri) for i, uri in _not_fingerprinted(self.engine, pairs) if i not in self._queued]
        self._queued.update(i for i, _ in todo)
        if todo:
            with self._cv:
                self._pages.append(todo)
                self._cv.notify_all()

    def _feed(self) -> None:
        """Hands pages to the helper, at most :data:`_IN_FLIGHT` unanswered."""
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._dead or (self._pages and len(self._sent) < self._IN_FLIGHT)
                                  or (self._closing and not self._pages))
                if self._dead or not self._pages:
                    break
                page = self._pages.popleft()
                self._sent.append(page)
            try:
                self._proc.stdin.write(json.dumps(page) + "\n")
                self._proc.stdin.flush()
            except (OSError, ValueError):  # the helper died: _collect sees it end
                break
        try:
            self._proc.stdin.close()
        except OSError:
            pass

    def _collect(self) -> None:
        """Reads the helper's answers, one line per page, in the order they were sent."""
        for line in self._proc.stdout:
            found = [Fingerprint(*row) for row in json.loads(line)]
            with self._cv:
                self._sent.popleft()
                self._found += found
                self._cv.notify_all()
        with self._cv:
            self._dead = True
            self._cv.notify_all()

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._proc is None:
            return
        try:
            if exc_type is None:
                found = []
                while True:  # the pages the helper has not got yet, newest first
                    with self._cv:
                        if not self._pages:
                            self._closing = True
                            self._cv.notify_all()
                            break
                        page = self._pages.pop()
                    found += take_all(page)
                with self._cv:
                    self._cv.wait_for(lambda: self._dead or not self._sent)
                    unanswered = list(self._sent) + list(self._pages)  # left by a helper that died
                    found += self._found
                for page in unanswered:
                    found += take_all(page)
                _insert(self.engine, found)
                self.taken += len(found)
        finally:
            with self._cv:
                self._closing = self._dead = True
                self._cv.notify_all()
            if self._proc.poll() is None:
                if exc_type is not None:
                    self._proc.kill()
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass
            self._proc.wait()
            for thread in self._threads:
                thread.join()
            self._proc.stdout.close()


def _insert(engine: Engine, taken: Sequence[Fingerprint]) -> None:
    """Records fingerprints; those of artifacts another process fingerprinted meanwhile are left as they are."""
    if not taken:
        return
    now = int(time.time() * 1000)
    ids = [fp.artifact_id for fp in taken]
    for attempt in range(2):
        try:
            with engine.begin() as connection:
                have = set()
                for i in range(0, len(ids), 500):
                    have.update(connection.scalars(select(t.fingerprint.c.artifact_id).where(
                        t.fingerprint.c.artifact_id.in_(ids[i:i + 500]))).all())
                rows = [{"artifact_id": fp.artifact_id, "digest": fp.digest, "size": fp.size, "files": fp.files,
                         "created_ms": now} for fp in taken if fp.artifact_id not in have]
                if rows:
                    connection.execute(insert(t.fingerprint), rows)
            return
        except IntegrityError:  # inserted by another process between the look-up and the insert
            if attempt:
                raise


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
