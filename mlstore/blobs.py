"""Content-addressed blob storage.

An artifact's bytes are a *blob*: a directory tree (a single file is a tree of one).
Its identity is the digest of its manifest (see :mod:`mlstore.manifest`), so the
address of a blob is its content: ``objects/<hex of the digest>`` under the artifact
root, never a location a writer chose. Layout under the artifact root::

    objects/<hex>/...      the files, read-only once published
    manifests/<hex>        the manifest; its presence marks the blob complete
    staging/<uuid>/        in-flight copies (local roots only)

Publishing copies into staging, hashes the staged copy, then renames it into
``objects/`` (atomic on one file system) and writes the manifest last, so a reader
that finds a manifest always finds a complete blob. Identical content is stored once.
Object stores (any fsspec URL) follow the same protocol: files first, manifest last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import fsspec

from mlstore.errors import IntegrityError, InvalidArgument, NotFound
from mlstore.manifest import MANIFEST_HEADER, MANIFEST_HEADER_V2, Manifest, ManifestEntry

__all__ = ["MANIFEST_HEADER", "MANIFEST_HEADER_V2", "BlobStore", "Manifest", "ManifestEntry", "PublishedBlob",
           "VerifyProblem", "collect_files", "hex_of", "manifest_of", "sha256_file"]

_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class PublishedBlob:
    """Result of :meth:`BlobStore.publish`."""

    digest: str
    size: int
    uri: str  # where the artifact's bytes are: the blob directory or the single file in it
    stored_new_bytes: bool  # False when identical content was already stored


@dataclass(frozen=True)
class VerifyProblem:
    path: str
    problem: str  # "missing", "size 10 != 12", "sha256 differs", "unexpected file"


def hex_of(digest: str) -> str:
    """The hex part of ``sha256:<hex>``."""
    if (not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71
            or not all(c in _HEX for c in digest[7:])):
        raise InvalidArgument(f"malformed digest {str(digest)[:80]!r}; expected sha256:<64 lowercase hex>")
    return digest[len("sha256:"):]


def collect_files(source: Path) -> list[tuple[str, Path]]:
    """Lists ``(relative posix path, absolute path)`` of every file under ``source``.

    Symlinks are followed only when their target stays inside ``source``.

    Raises:
        NotFound: ``source`` does not exist.
        InvalidArgument: a symlink points outside ``source``, or the tree is empty.
    """
    if not source.exists():
        raise NotFound(f"path {source} does not exist")
    root = source.resolve()
    if not root.is_dir():
        _check_regular(source, root)
        return [(source.name, root)]
    files: list[tuple[str, Path]] = []
    # One scandir per directory; a plain file's real path is root/rel (every directory
    # on the way is a real one under root), so only symlinks are resolved.
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_symlink():
                    full = source / rel
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        raise InvalidArgument(
                            f"{full} is a symlink to {target}, outside {source}; refusing to store it"
                        )
                    if target.is_dir():
                        raise InvalidArgument(f"{full} is a symlink to a directory; copy it instead")
                    _check_regular(full, target)
                    files.append((rel, target))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    files.append((rel, root / rel))
                else:
                    _check_regular(source / rel, root / rel)  # raises: a FIFO, socket or device
    if not files:
        raise InvalidArgument(f"directory {source} has no files to store")
    return sorted(files)


def _check_regular(path: Path, target: Path) -> None:
    """Raises InvalidArgument unless ``target`` is a regular file (not a FIFO, socket or device)."""
    mode = target.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISBLK(mode) or stat.S_ISCHR(mode) else "not a regular file")
        raise InvalidArgument(f"{path} is {kind}; only regular files and directories can be stored")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def manifest_of(files: list[tuple[str, Path]]) -> Manifest:
    return Manifest(
        tuple(ManifestEntry(rel, full.stat().st_size, sha256_file(full)) for rel, full in files)
    )


class BlobStore:
    """Content-addressed blobs under a local directory or an fsspec URL."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.root)
        self.is_local = self.fs.protocol in ("file", ("file", "local")) or "file" in self.fs.protocol

    # -- paths -------------------------------------------------------------------------

    def _object(self, hexd: str) -> str:
        return f"{self._base}/objects/{hexd}"

    def _manifest(self, hexd: str) -> str:
        return f"{self._base}/manifests/{hexd}"

    def object_uri(self, digest: str) -> str:
        """The URI of a blob's directory (a local path for local roots)."""
        hexd = hex_of(digest)
        return self._object(hexd) if self.is_local else f"{self.root}/objects/{hexd}"

    # -- write -------------------------------------------------------------------------

    def publish(self, source: str | os.PathLike) -> PublishedBlob:
        """Stores the file or directory ``source`` by content and returns its digest.

        Idempotent: publishing identical content again stores nothing new.

        Raises:
            NotFound: ``source`` does not exist.
            InvalidArgument: a symlink escapes ``source`` or it holds no file.
        """
        source = Path(source)
        files = collect_files(source)
        single = source.name if source.resolve().is_file() else None
        return self.publish_files(files, single_file=single)

    def publish_files(self, files: Sequence[tuple[str, Path]], single_file: str | None = None) -> PublishedBlob:
        """Stores ``(relative posix path, file)`` pairs as one blob (see :meth:`publish`).

        Why: a caller that lays files out under other names (``log_model``'s
        ``Format-Serving/``) needs no copy of them first. ``single_file`` names the one
        file of a blob published from a file (its uri is then that file's).
        """
        files = sorted(files)
        for _attempt in range(2):  # a second time only when gc swept the blob we matched
            if self.is_local:
                manifest, new = self._publish_local(files)
            else:
                manifest, new = self._publish_remote(files)
            if new or self._refresh(manifest):
                break
        return self._published(manifest, new, single_file)

    def publish_written(self, write: Callable[[Path], None]) -> PublishedBlob:
        """Stores as one blob the files ``write(folder)`` creates in an empty folder.

        On a local root the folder is the blob's staging directory, so the files are
        written once and renamed into place, never copied (``log_evaluation``'s
        ``metrics.json``). ``write`` may be called again (when gc swept a matching blob).

        Raises:
            InvalidArgument: ``write`` created no file, or a symlink leaving the folder.
        """
        for _attempt in range(2):
            if self.is_local:
                staging = self._new_staging()
                try:
                    staging.mkdir(parents=True)
                    write(staging)
                    manifest, new = self._publish_local(collect_files(staging), staged=staging)
                finally:
                    self._drop_staging(staging)
            else:
                with tempfile.TemporaryDirectory(prefix="mlstore-blob-") as tmp:
                    write(Path(tmp))
                    manifest, new = self._publish_remote(collect_files(Path(tmp)))
            if new or self._refresh(manifest):
                break
        return self._published(manifest, new, None)

    def _published(self, manifest: Manifest, new: bool, single_file: str | None) -> PublishedBlob:
        uri = self.object_uri(manifest.digest)
        if single_file is not None:
            uri = f"{uri}/{single_file}"
        return PublishedBlob(manifest.digest, manifest.size, uri, new)

    def _new_staging(self) -> Path:
        return Path(self._base) / "staging" / uuid.uuid4().hex

    @staticmethod
    def _drop_staging(staging: Path) -> None:
        if staging.exists():
            _make_writable(staging)
            shutil.rmtree(staging, ignore_errors=True)

    def _publish_local(self, files: Sequence[tuple[str, Path]], staged: Path | None = None) -> tuple[Manifest, bool]:
        """Copies ``files`` into a new staging directory (or takes those already in
        ``staged``), hashes the staged copy and renames it into ``objects/``."""
        staging = staged or self._new_staging()
        try:
            if staged is None:
                for rel, full in files:
                    dest = staging / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(full, dest)
            # Hash the staged copy, not the source: the source may change while we copy.
            manifest = manifest_of([(rel, staging / rel) for rel, _ in files])
            hexd = hex_of(manifest.digest)
            if self.exists(manifest.digest):
                return manifest, False
            target = Path(self._object(hexd))
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # an earlier publish died before writing its manifest
                _make_writable(target)
                shutil.rmtree(target)
            _make_read_only(staging)
            os.rename(staging, target)
            self._write_manifest(manifest)
            return manifest, True
        finally:
            self._drop_staging(staging)

    def _publish_remote(self, files: Sequence[tuple[str, Path]]) -> tuple[Manifest, bool]:
        manifest = manifest_of(files)
        if self.exists(manifest.digest):
            return manifest, False
        base = self._object(hex_of(manifest.digest))
        for rel, full in files:
            self.fs.put_file(str(full), f"{base}/{rel}")
        self._write_manifest(manifest)
        return manifest, True

    def _refresh(self, manifest: Manifest) -> bool:
        """Marks an already stored blob as just published; False when it vanished meanwhile.

        Why: garbage collection never sweeps a blob whose manifest is younger than its
        grace period, so a run that re-publishes content only deleted artifacts
        referenced keeps it alive until the run has logged its execution.
        """
        path = self._manifest(hex_of(manifest.digest))
        try:
            if self.is_local:
                os.utime(path)
            else:
                self._write_manifest(manifest)
        except FileNotFoundError:
            return False
        return self.exists(manifest.digest)

    def _write_manifest(self, manifest: Manifest) -> None:
        path = self._manifest(hex_of(manifest.digest))
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        if self.is_local:  # the same steps without fsspec's per-call overhead
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(manifest.text().encode("utf-8"))
            os.rename(tmp, path)
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(tmp, "wb") as f:
            f.write(manifest.text().encode("utf-8"))
        self.fs.mv(tmp, path)

    # -- read --------------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """True when the blob is complete (its manifest is present)."""
        path = self._manifest(hex_of(digest))
        return os.path.exists(path) if self.is_local else self.fs.exists(path)

    def manifest(self, digest: str) -> Manifest:
        """Reads a blob's manifest.

        Raises:
            NotFound: no complete blob has this digest.
        """
        path = self._manifest(hex_of(digest))
        try:
            with self.fs.open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in {self.root}") from None
        # The stored bytes are what the digest names (a v1 manifest written before v2
        # existed may hold a name v1 can no longer express, e.g. a form feed).
        actual = "sha256:" + hashlib.sha256(raw).hexdigest()
        if actual != digest:
            raise IntegrityError(f"manifest of {digest} was altered (it hashes to {actual})")
        try:
            return Manifest.parse(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise IntegrityError(f"manifest of {digest} is not UTF-8") from None

    def local_path(self, digest: str, cache_dir: Path | None = None) -> Path:
        """A local directory holding the blob's verified files (remote blobs via a cache).

        The files are re-hashed against the manifest before they are handed out, once per
        process and again whenever a cheap ``stat`` of them changes (size, times, inode).

        Raises:
            NotFound: no complete blob has this digest, or one of its files is missing.
            IntegrityError: a file's bytes differ from the manifest, or files were added.
        """
        hexd = hex_of(digest)
        manifest = self.manifest(digest)
        if self.is_local:
            directory = Path(self._object(hexd))
            _check_verified(directory, digest, manifest, self.root)
            return directory
        cache = (cache_dir or Path(os.environ.get("MLSTORE_CACHE", "~/.cache/mlstore"))).expanduser()
        target = cache / "blobs" / hexd
        if target.exists():
            try:
                _check_verified(target, digest, manifest, str(cache))
                return target
            except (NotFound, IntegrityError):
                _make_writable(target)
                shutil.rmtree(target, ignore_errors=True)
        tmp = cache / "blobs" / f".{hexd}.{uuid.uuid4().hex}"
        for entry in manifest.entries:
            dest = tmp / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.fs.get_file(f"{self._object(hexd)}/{entry.path}", str(dest))
            except FileNotFoundError:
                shutil.rmtree(tmp, ignore_errors=True)
                raise NotFound(f"blob {digest}: {entry.path} is missing from {self.root}") from None
        problems = _local_problems(tmp, manifest)
        if problems:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IntegrityError(f"blob {digest} is corrupt in {self.root}: {problems[0].path} {problems[0].problem}")
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        _check_verified(target, digest, manifest, str(cache))
        return target

    def verify(self, digest: str) -> list[VerifyProblem]:
        """Re-hashes a stored blob against its manifest; returns the problems found."""
        try:
            manifest = self.manifest(digest)
        except NotFound:
            return [VerifyProblem("", "blob missing (no manifest)")]
        except IntegrityError as e:
            return [VerifyProblem("", str(e))]
        try:
            if self.is_local:
                return _local_problems(Path(self._object(hex_of(digest))), manifest)
            return self._remote_problems(digest, manifest)
        except OSError as e:  # unreadable file, permission: a finding for this blob, not a crash
            return [VerifyProblem("", f"cannot read: {e.__class__.__name__}: {e.strerror or e}")]

    def _remote_problems(self, digest: str, manifest: Manifest) -> list[VerifyProblem]:
        base = self._object(hex_of(digest))
        problems = []
        for entry in manifest.entries:
            path = f"{base}/{entry.path}"
            if not self.fs.exists(path):
                problems.append(VerifyProblem(entry.path, "missing"))
                continue
            h = hashlib.sha256()
            with self.fs.open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            if h.hexdigest() != entry.sha256:
                problems.append(VerifyProblem(entry.path, "sha256 differs"))
        return problems

    # -- delete (used by garbage collection only) ---------------------------------------

    def delete(self, digest: str) -> None:
        """Removes a blob: manifest first (so it stops counting as present), then files."""
        hexd = hex_of(digest)
        manifest_path = self._manifest(hexd)
        if self.fs.exists(manifest_path):
            self.fs.rm(manifest_path)
        target = self._object(hexd)
        if self.is_local:
            if Path(target).exists():
                _make_writable(Path(target))
                shutil.rmtree(target)
        elif self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def digests(self) -> list[str]:
        """Every complete blob's digest."""
        base = f"{self._base}/manifests"
        if not self.fs.exists(base):
            return []
        return sorted(
            "sha256:" + p.rsplit("/", 1)[-1]
            for p in self.fs.ls(base, detail=False)
            if not p.endswith(".tmp")
        )


#: ``(directory, digest) -> stat signature`` of blob directories whose files hashed right.
_VERIFIED: dict[tuple[str, str], tuple] = {}
_VERIFIED_LOCK = threading.Lock()


def _signature(directory: Path, digest: str, manifest: Manifest, where: str) -> tuple:
    """What a ``stat`` says about the blob's files and folders; NotFound when one is missing."""
    parts = []
    folders = {directory}
    for entry in manifest.entries:
        path = directory / entry.path
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"blob {digest}: {entry.path} is missing from {where}") from None
        parts.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        folders.update(path.parents[:len(Path(entry.path).parts) - 1])
    for folder in sorted(folders):
        st = folder.stat()
        parts.append((str(folder), st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(parts)


def _check_verified(directory: Path, digest: str, manifest: Manifest, where: str) -> None:
    """Re-hashes ``directory`` against ``manifest`` unless it verified with the same signature.

    Raises:
        NotFound: a file is missing. IntegrityError: bytes differ or files were added.
    """
    key = (str(directory), digest)
    signature = _signature(directory, digest, manifest, where)
    with _VERIFIED_LOCK:
        if _VERIFIED.get(key) == signature:
            return
    problems = _local_problems(directory, manifest)
    if any(p.problem == "missing" for p in problems):
        raise NotFound(f"blob {digest}: {problems[0].path} is missing from {where}")
    if problems:
        raise IntegrityError(f"blob {digest} is corrupt in {where}: {problems[0].path}: {problems[0].problem}; "
                             "`mlstore verify` lists every damaged artifact")
    with _VERIFIED_LOCK:
        _VERIFIED[key] = signature


def _local_problems(directory: Path, manifest: Manifest) -> list[VerifyProblem]:
    problems = []
    expected = {e.path: e for e in manifest.entries}
    for entry in manifest.entries:
        path = directory / entry.path
        if not path.is_file():
            problems.append(VerifyProblem(entry.path, "missing"))
        elif path.stat().st_size != entry.size:
            problems.append(VerifyProblem(entry.path, f"size {path.stat().st_size} != {entry.size}"))
        elif sha256_file(path) != entry.sha256:
            problems.append(VerifyProblem(entry.path, "sha256 differs"))
    if directory.is_dir():
        for path in directory.rglob("*"):
            rel = path.relative_to(directory).as_posix()
            if path.is_file() and rel not in expected:
                problems.append(VerifyProblem(rel, "unexpected file"))
    return problems


def _make_read_only(directory: Path) -> None:
    for path in sorted(directory.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    directory.chmod(directory.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(directory: Path) -> None:
    directory.chmod(directory.stat().st_mode | stat.S_IWUSR)
    for path in directory.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
