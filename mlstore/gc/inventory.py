"""What is physically in the blob store, and how old it is -- the sweep's view of bytes.

Works on any fsspec root (local directory, ``memory://``, object stores): only
``ls``/``find``/``modified``/``exists`` are used. Ages come from the manifest's
modification time, which ``BlobStore.publish`` refreshes when identical content is
published again, so a blob a running pipeline just (re)published always looks young.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import fsspec

from mlstore.blobs import BlobStore, hex_of
from mlstore.errors import IntegrityError, NotFound


@dataclass(frozen=True)
class BlobInfo:
    """A blob on storage: complete (has a manifest) or an incomplete object directory."""

    digest: str
    size: int
    modified_ms: int  # newest modification time that matters for the grace period
    complete: bool


class Inventory:
    """Lists blobs and their ages under one BlobStore's root."""

    def __init__(self, blobs: BlobStore):
        self.blobs = blobs
        self.fs, self.base = fsspec.core.url_to_fs(blobs.root)

    def complete_digests(self) -> list[str]:
        return self.blobs.digests()

    def info(self, digest: str) -> BlobInfo | None:
        """Size and manifest age of a complete blob (None when it is gone)."""
        path = f"{self.base}/manifests/{hex_of(digest)}"
        try:
            modified = _ms(self.fs.modified(path))
        except FileNotFoundError:
            return None
        try:
            size = self.blobs.manifest(digest).size
        except (NotFound, IntegrityError):
            size = self._object_bytes(hex_of(digest))  # a damaged manifest: count what is there
        return BlobInfo(digest, size, modified, True)

    def incomplete(self) -> list[BlobInfo]:
        """Object directories without a manifest: a publish in flight or died, or a gc killed mid-delete."""
        objects = f"{self.base}/objects"
        if not self.fs.exists(objects):
            return []
        complete = {d[len("sha256:"):] for d in self.complete_digests()}
        found = []
        for path in self.fs.ls(objects, detail=False):
            hexd = path.rstrip("/").rsplit("/", 1)[-1]
            if hexd in complete or len(hexd) != 64:
                continue
            files = self.fs.find(path, detail=True)
            newest = max((_ms(self.fs.modified(p)) for p in files), default=0)
            if not files:
                newest = _ms(self.fs.modified(path)) if self.fs.isfile(path) else 0
            found.append(BlobInfo("sha256:" + hexd, sum(int(i.get("size") or 0) for i in files.values()),
                                  newest, False))
        return found

    def modified_ms(self, digest: str) -> int:
        """Newest modification of the blob's manifest or files (0 when nothing is left)."""
        hexd = hex_of(digest)
        times = [0]
        try:
            times.append(_ms(self.fs.modified(f"{self.base}/manifests/{hexd}")))
        except FileNotFoundError:
            pass
        path = f"{self.base}/objects/{hexd}"
        if self.fs.exists(path):
            times += [_ms(self.fs.modified(p)) for p in self.fs.find(path)]
        return max(times)

    def object_bytes(self) -> int:
        """Total bytes of every file under ``objects/`` (what gc frees is measured in these)."""
        objects = f"{self.base}/objects"
        if not self.fs.exists(objects):
            return 0
        return sum(int(i.get("size") or 0) for i in self.fs.find(objects, detail=True).values())

    def _object_bytes(self, hexd: str) -> int:
        path = f"{self.base}/objects/{hexd}"
        if not self.fs.exists(path):
            return 0
        return sum(int(i.get("size") or 0) for i in self.fs.find(path, detail=True).values())


def _ms(when) -> int:
    """Epoch milliseconds of what ``fs.modified`` returns (a datetime, naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)
