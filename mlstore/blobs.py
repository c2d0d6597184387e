"""Content-addressed blob storage.

An artifact's bytes are a *blob*: a directory tree (a single file is a tree of one).
Its identity is the digest of its **manifest v1**::

    mlstore-manifest v1
    <size>\t<sha256 hex>\t<relative/posix/path>     (one line per file, sorted by path)

``digest = "sha256:" + sha256(manifest bytes)``. Layout under the artifact root::

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
import uuid
from dataclasses import dataclass
from pathlib import Path

import fsspec

from mlstore.errors import FailedPrecondition, IntegrityError, InvalidArgument, NotFound

MANIFEST_HEADER = "mlstore-manifest v1"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative POSIX path
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The sorted file list of a blob; :attr:`digest` identifies the blob."""

    entries: tuple[ManifestEntry, ...]

    def text(self) -> str:
        lines = [MANIFEST_HEADER] + [f"{e.size}\t{e.sha256}\t{e.path}" for e in self.entries]
        return "\n".join(lines) + "\n"

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.text().encode()).hexdigest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @classmethod
    def parse(cls, text: str) -> "Manifest":
        lines = text.splitlines()
        if not lines or lines[0] != MANIFEST_HEADER:
            raise IntegrityError(f"not an mlstore manifest v1 (header {lines[:1]!r})")
        entries = []
        for line in lines[1:]:
            size, sha, path = line.split("\t", 2)
            entries.append(ManifestEntry(path, int(size), sha))
        return cls(tuple(entries))


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
    if not digest.startswith("sha256:") or len(digest) != 71:
        raise InvalidArgument(f"malformed digest {digest!r}; expected sha256:<64 hex>")
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
    if root.is_file():
        return [(source.name, root)]
    files = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                target = full.resolve()
                if not target.is_relative_to(root):
                    raise InvalidArgument(
                        f"{full} is a symlink to {target}, outside {source}; refusing to store it"
                    )
                if target.is_dir():
                    raise InvalidArgument(f"{full} is a symlink to a directory; copy it instead")
        for name in filenames:
            full = Path(dirpath) / name
            files.append((full.relative_to(source).as_posix(), full.resolve()))
    if not files:
        raise InvalidArgument(f"directory {source} has no files to store")
    return sorted(files)


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
        for _attempt in range(2):  # a second time only when gc swept the blob we matched
            if self.is_local:
                manifest, new = self._publish_local(files)
            else:
                manifest, new = self._publish_remote(files)
            if new or self._refresh(manifest):
                break
        uri = self.object_uri(manifest.digest)
        if source.resolve().is_file():
            uri = f"{uri}/{source.name}"
        return PublishedBlob(manifest.digest, manifest.size, uri, new)

    def _publish_local(self, files: list[tuple[str, Path]]) -> tuple[Manifest, bool]:
        staging = Path(self._base) / "staging" / uuid.uuid4().hex
        try:
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
            if staging.exists():
                _make_writable(staging)
                shutil.rmtree(staging, ignore_errors=True)

    def _publish_remote(self, files: list[tuple[str, Path]]) -> tuple[Manifest, bool]:
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
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with self.fs.open(tmp, "w") as f:
            f.write(manifest.text())
        self.fs.mv(tmp, path)

    # -- read --------------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """True when the blob is complete (its manifest is present)."""
        return self.fs.exists(self._manifest(hex_of(digest)))

    def manifest(self, digest: str) -> Manifest:
        """Reads a blob's manifest.

        Raises:
            NotFound: no complete blob has this digest.
        """
        path = self._manifest(hex_of(digest))
        try:
            with self.fs.open(path, "r") as f:
                manifest = Manifest.parse(f.read())
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in {self.root}") from None
        if manifest.digest != digest:
            raise IntegrityError(f"manifest of {digest} was altered (it hashes to {manifest.digest})")
        return manifest

    def local_path(self, digest: str, cache_dir: Path | None = None) -> Path:
        """A local directory holding the blob's files, downloading remote blobs to a cache.

        Remote blobs are verified after download; a cached copy is re-verified before use.
        """
        hexd = hex_of(digest)
        if self.is_local:
            if not self.exists(digest):
                raise NotFound(f"blob {digest} is not in {self.root}")
            return Path(self._object(hexd))
        cache = (cache_dir or Path(os.environ.get("MLSTORE_CACHE", "~/.cache/mlstore"))).expanduser()
        target = cache / "blobs" / hexd
        manifest = self.manifest(digest)
        if target.exists() and not _local_problems(target, manifest):
            return target
        tmp = cache / "blobs" / f".{hexd}.{uuid.uuid4().hex}"
        for entry in manifest.entries:
            dest = tmp / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(f"{self._object(hexd)}/{entry.path}", str(dest))
        problems = _local_problems(tmp, manifest)
        if problems:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IntegrityError(f"blob {digest} is corrupt in {self.root}: {problems[0].path} {problems[0].problem}")
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        return target

    def verify(self, digest: str) -> list[VerifyProblem]:
        """Re-hashes a stored blob against its manifest; returns the problems found."""
        try:
            manifest = self.manifest(digest)
        except NotFound:
            return [VerifyProblem("", "blob missing (no manifest)")]
        except IntegrityError as e:
            return [VerifyProblem("", str(e))]
        if self.is_local:
            return _local_problems(Path(self._object(hex_of(digest))), manifest)
        return self._remote_problems(digest, manifest)

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


def verify_artifacts(blobs: BlobStore, artifacts) -> dict:
    """``{artifact node id: [problem, ...]}`` for every artifact whose blob fails to verify.

    Shared by the local and the remote store: a blob shared by several artifacts is
    re-hashed once, and artifacts without bytes are skipped.
    """
    checked: dict[str, list[str]] = {}
    corrupted = {}
    for art in artifacts:
        if not art.digest:
            continue
        if art.digest not in checked:
            checked[art.digest] = [f"{p.path}: {p.problem}".lstrip(": ") for p in blobs.verify(art.digest)]
        if checked[art.digest]:
            corrupted[art.node_id] = checked[art.digest]
    return corrupted


def artifact_local_path(blobs: BlobStore, artifact) -> str:
    """A local path holding an artifact's bytes (its blob, or the single file in it).

    Raises:
        FailedPrecondition: the artifact has no stored bytes.
    """
    if not artifact.digest:
        raise FailedPrecondition(f"{artifact.node_id} has no stored bytes")
    base = blobs.local_path(artifact.digest)
    object_uri = blobs.object_uri(artifact.digest)
    return str(base) + (artifact.uri[len(object_uri):] if artifact.uri.startswith(object_uri) else "")


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
