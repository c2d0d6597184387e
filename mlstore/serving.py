"""TensorFlow Serving's model base path: ``<base>/<name>/<integer version>/``.

TF Serving loads the highest integer directory under ``<base>/<name>`` and ignores any
other name. A new version is therefore copied into a hidden staging directory next
to the versions (same file system) and renamed into place in one step: the server
never sees a half-copied version. Versions strictly increase: the next one is the
highest integer directory + 1, so two models of the same span get two versions (a
version directory is never reused, overwritten or silently skipped).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from mlstore import errors
from mlstore.blobs import collect_files, manifest_of

#: Prefix of staging directories (TF Serving ignores names that are not integers).
STAGING_PREFIX = ".mlstore-push-"
_MAX_RACES = 100


@dataclass(frozen=True)
class InstalledVersion:
    """A version directory written under a model base path.

    Attributes:
        version: its integer version (the directory's name).
        path: the version directory, absolute.
        digest: the manifest digest of its bytes (hashed before the rename).
    """

    version: int
    path: Path
    digest: str


def check_model_name(name: str) -> None:
    """Raises InvalidArgument for a name that is not one directory name."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or name.startswith(".") or "\0" in name:
        raise errors.InvalidArgument(f"bad model name {name!r}: one directory name, not starting with '.'")


def versions(model_root: str | Path) -> list[int]:
    """The integer version directories under ``model_root``, ascending ([] when it does not exist)."""
    root = Path(model_root)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and p.is_dir())


def next_version(model_root: str | Path) -> int:
    """The highest integer version under ``model_root`` + 1 (1 for a new model)."""
    found = versions(model_root)
    return found[-1] + 1 if found else 1


def model_root(base: str | Path, name: str) -> Path:
    """``<base>/<name>``, absolute, after checking the name.

    Raises:
        InvalidArgument: a bad name, an empty base or one with a NUL byte.
    """
    check_model_name(name)
    if not str(base) or "\0" in str(base):
        raise errors.InvalidArgument(f"bad serving base path {str(base)!r}")
    return Path(base).absolute() / name


def check_writable(base: str | Path, name: str) -> Path:
    """The model root, after checking it can be created and written (before anything is recorded).

    Raises:
        FailedPrecondition: the base path (or the model root) is not a writable directory.
    """
    root = model_root(base, name)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise errors.FailedPrecondition(f"cannot push to {root}: {existing} is not a writable directory")
    return root


def install_version(source: str | Path, base: str | Path, name: str) -> InstalledVersion:
    """Copies the SavedModel directory ``source`` to ``<base>/<name>/<next version>/``.

    Staged under ``<base>/<name>/.mlstore-push-*`` and renamed into place; if another
    pusher takes the version first, the next one is taken. On any failure the staging
    directory is removed and no version directory appears.

    Raises:
        InvalidArgument: a bad name. NotFound: ``source`` has no saved_model.pb.
        FailedPrecondition: the base path is not writable.
    """
    source = Path(source)
    if not (source / "saved_model.pb").is_file():
        raise errors.NotFound(f"{source} is not a SavedModel (no saved_model.pb)")
    root = check_writable(base, name)
    staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, staging)
        digest = manifest_of(collect_files(staging)).digest
        return InstalledVersion(*_rename_into_place(staging, root), digest)
    except OSError as e:
        raise errors.FailedPrecondition(f"cannot push to {root}: {_reason(e)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _reason(error: OSError) -> str:
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        source, _, why = error.args[0][0]  # copytree collects (source, target, why) per file
        return f"copying {source} failed: {why}"
    return error.strerror or str(error)


def _rename_into_place(staging: Path, root: Path) -> tuple[int, Path]:
    # rename() of a directory fails when the target exists and is not empty: a pusher
    # that lost the race for a version takes the next one. (No empty directory is made
    # to claim a version first: TF Serving would try to load it.)
    for _ in range(_MAX_RACES):
        target = root / str(next_version(root))
        try:
            os.rename(staging, target)
        except OSError as e:
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return int(target.name), target
    raise errors.Aborted(f"{_MAX_RACES} concurrent pushes to {root} took every version tried; retry")


def remove_version(installed: InstalledVersion) -> None:
    """Removes a version directory again (a push whose record could not be written)."""
    shutil.rmtree(installed.path, ignore_errors=True)
