"""Where an artifact's bytes are, bound to its digest: the write-side uri check and the read path.

An artifact with a digest whose blob is in the store (*stored*) has its bytes at
``objects/<hex>`` under the artifact root, derived from the digest: the only uris such
an artifact may be recorded with are that directory and the files listed in its
manifest (a single-file blob's uri names the file). Reads go to the derived location
whatever uri was recorded, and the bytes are verified first (see
``BlobStore.local_path``).

An artifact whose uri is outside the store's blob root (*external*: written by another
system, e.g. TFX into its pipeline root) is read only when its path lies under one of
the store's read roots (the blob root plus the extra roots the store was opened with);
when it has a digest, the files are re-hashed against it before they are handed out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from mlstore import errors
from mlstore.blobs import BlobStore, collect_files, manifest_of

#: Extra read roots (``os.pathsep``-separated) for stores opened without explicit ones.
READ_ROOTS_ENV = "MLSTORE_READ_ROOTS"


def read_roots(blobs: BlobStore, extra: Iterable[str] | None, location=None) -> tuple[str, ...]:
    """The store's read roots: its blob root, then ``extra`` (default ``$MLSTORE_READ_ROOTS``).

    An attached MLMD file (TFX's ``metadata.sqlite``) adds the folder it is in by default:
    TFX's pipeline root usually sits beside it.
    """
    if extra is None:
        extra = [r for r in os.environ.get(READ_ROOTS_ENV, "").split(os.pathsep) if r]
        if location is not None and location.attached:
            extra.append(str(location.mlmd_file.parent))
    return (blobs.root, *(str(r).rstrip("/") or "/" for r in extra))


def member_of(blobs: BlobStore, digest: str, uri: str, moved: bool = False) -> str | None:
    """The path inside the digest's blob that ``uri`` names ("" for the blob itself), None when outside.

    With ``moved``, a uri recorded under another artifact root (the store was copied or
    moved: uris are absolute) counts by its ``objects/<hex>`` part; reads never go to
    that location anyway, only to the blob's place under this root.
    """
    base = blobs.object_uri(digest)
    if uri == base:
        return ""
    if uri.startswith(base + "/"):
        return uri[len(base) + 1:]
    if moved:
        marker = f"/objects/{digest[len('sha256:'):]}"
        at = uri.rfind(marker)
        rest = uri[at + len(marker):] if at >= 0 else None
        if rest == "" or (rest and rest.startswith("/")):
            return rest[1:]
    return None


def bound_uri(blobs: BlobStore, digest: str, uri: str, role: str) -> str:
    """The uri a new output with bytes ``digest`` is recorded with (derived when ``uri`` is empty).

    Raises:
        InvalidArgument: ``uri`` is not the blob's location nor a file of the blob.
        NotFound: the blob is not in the store.
    """
    if not uri:
        return blobs.object_uri(digest)
    member = member_of(blobs, digest, uri)
    if member == "" or (member and member in blobs.manifest(digest).paths()):
        return uri
    raise errors.InvalidArgument(
        f"output {role!r}: uri {uri[:200]!r} is not where mlstore stores blob {digest[:19]}: bytes of a "
        f"digest live at {blobs.object_uri(digest)} (or a file listed in its manifest); leave uri empty")


def artifact_local_path(blobs: BlobStore, artifact, roots: Sequence[str] = ()) -> str:
    """A local path holding an artifact's verified bytes (its blob, a file in it, or an external path).

    Raises:
        FailedPrecondition: the artifact has no bytes (no digest and no uri).
        NotFound: the bytes are gone. IntegrityError: they differ from the digest.
        PermissionDenied: an external uri outside the store's read roots.
    """
    digest, uri = artifact.digest, artifact.uri or ""
    member = member_of(blobs, digest, uri, moved=True) if digest else None
    if digest and (blobs.exists(digest) or member is not None or not uri):
        base = blobs.local_path(digest)  # verified; NotFound when the blob is gone
        if member and member in blobs.manifest(digest).paths():
            return str(base / member)
        return str(base)
    if not uri:
        raise errors.FailedPrecondition(f"{artifact.node_id} has no stored bytes")
    path = external_path(uri, roots or (blobs.root,), artifact.node_id)
    if digest:
        actual = manifest_of(collect_files(path)).digest
        if actual != digest:
            raise errors.IntegrityError(f"{artifact.node_id}: the files at {path} hash to {actual[:19]}, "
                                        f"not its digest {digest[:19]}")
    return str(path)


def external_path(uri: str, roots: Sequence[str], node) -> Path:
    """The local path of an external uri, checked to lie under one of ``roots``.

    Raises:
        PermissionDenied: outside every read root (``..`` and symlinks are resolved first).
        NotFound: nothing is there.
    """
    raw = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" in raw or not raw.startswith("/"):
        raise errors.PermissionDenied(f"{node}: uri {uri[:200]!r} is not a local absolute path under the "
                                      f"store's read roots {list(roots)}")
    resolved = Path(os.path.realpath(raw))
    for root in roots:
        if "://" in root:
            continue
        if resolved.is_relative_to(Path(os.path.realpath(root))):
            if not resolved.exists():
                raise errors.NotFound(f"{node}: its bytes at {resolved} do not exist")
            return resolved
    raise errors.PermissionDenied(f"{node}: uri {uri[:200]!r} is outside the store's read roots {list(roots)}; "
                                  f"open the store with read_roots=[...] (or set {READ_ROOTS_ENV}) to read it")


def verify_artifacts(blobs: BlobStore, artifacts, roots: Sequence[str] = ()) -> dict:
    """``{artifact node id: [problem, ...]}`` for every artifact whose bytes fail to verify.

    Shared by the local and the remote store: a blob shared by several artifacts is
    re-hashed once, artifacts without bytes are skipped, a uri that is not where the
    digest's blob lives is a problem, and a problem with one artifact never stops the
    others from being checked.
    """
    checked: dict[str, list[str]] = {}
    corrupted = {}
    for art in artifacts:
        if not art.digest:
            continue
        try:
            problems = _artifact_problems(blobs, art, roots, checked)
        except (errors.MlstoreError, OSError, ValueError) as e:
            problems = [f"{e.__class__.__name__}: {e}"]
        if problems:
            corrupted[art.node_id] = problems
    return corrupted


def _artifact_problems(blobs: BlobStore, art, roots: Sequence[str], checked: dict[str, list[str]]) -> list[str]:
    uri = art.uri or ""
    member = member_of(blobs, art.digest, uri, moved=True)
    if member is None and uri and not blobs.exists(art.digest):  # external bytes
        artifact_local_path(blobs, art, roots)
        return []
    if art.digest not in checked:
        checked[art.digest] = [f"{p.path}: {p.problem}".lstrip(": ") for p in blobs.verify(art.digest)]
    problems = list(checked[art.digest])
    if not problems and uri and (member is None or (member and member not in blobs.manifest(art.digest).paths())):
        problems.append(f"uri {uri[:200]!r} is not where blob {art.digest[:19]} is stored "
                        f"({blobs.object_uri(art.digest)})")
    return problems
