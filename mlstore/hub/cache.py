"""The module cache: local copies keyed by content digest, re-verified on every use.

TF Hub keys its cache by a hash of the URL and trusts whatever directory it finds.
Here an entry is ``<cache dir>/<digest hex>/`` and it is used only if re-hashing its
files (manifest v1, as in :mod:`mlstore.blobs`) gives back that digest. A corrupt,
partial or stale entry is removed and fetched again. Entries are filled in a temporary
sibling directory and renamed into place, so readers never see half a copy.

The cache directory is ``$MLSTORE_HUB_CACHE``, else ``~/.cache/mlstore/hub``.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Callable

from mlstore.blobs import collect_files, hex_of, manifest_of
from mlstore.errors import IntegrityError, MlstoreError

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The hub cache directory (``$MLSTORE_HUB_CACHE`` or ``~/.cache/mlstore/hub``)."""
    return Path(os.environ.get("MLSTORE_HUB_CACHE") or "~/.cache/mlstore/hub").expanduser()


def digest_of_tree(directory: Path) -> str | None:
    """The manifest digest of ``directory``, or None when it is missing, empty or unreadable."""
    try:
        return manifest_of(collect_files(directory)).digest
    except (MlstoreError, OSError):
        return None


def cached_copy(digest: str, fetch: Callable[[], Path], root: Path | None = None) -> Path:
    """A verified local copy of the blob ``digest``, filling the cache from ``fetch()``.

    Args:
        digest: the expected content digest (``sha256:<hex>``).
        fetch: returns a local directory holding the blob's files (e.g. the store's
            object directory, or a download); it is copied, never moved.
        root: cache directory; default :func:`cache_dir`.

    Raises:
        IntegrityError: the fetched copy does not hash to ``digest`` (the store itself
            is corrupt: run ``mlstore verify``).
    """
    root = root or cache_dir()
    entry = root / hex_of(digest)
    if entry.exists():
        if digest_of_tree(entry) == digest:
            return entry
        log.warning("hub cache entry %s does not match its digest; fetching it again", entry)
        _remove(entry)
    return _fill(entry, digest, fetch())


def _fill(entry: Path, digest: str, source: Path) -> Path:
    tmp = entry.parent / f".{entry.name}.{uuid.uuid4().hex}.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, tmp)
        found = digest_of_tree(tmp)
        if found != digest:
            raise IntegrityError(f"module bytes fetched for {digest} hash to {found}; "
                                 "the store copy is corrupt: run `mlstore verify`")
        _make_read_only(tmp)
        try:
            os.rename(tmp, entry)
        except OSError:
            # Another process filled the entry first; use it if it verifies.
            if digest_of_tree(entry) != digest:
                raise
        return entry
    finally:
        if tmp.exists():
            _remove(tmp)


def _make_read_only(directory: Path) -> None:
    # Why: the cache is shared by every consumer; an in-place edit would be caught on the
    # next use anyway, but read-only files stop the accident in the first place.
    for path in directory.rglob("*"):
        if path.is_file():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _remove(directory: Path) -> None:
    for path in [directory, *directory.rglob("*")]:
        try:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        except OSError:
            pass
    shutil.rmtree(directory, ignore_errors=True)
