"""Input files by URI, as Beam workers read them: a local path, ``file://`` or any fsspec URL.

Steps hand their pipelines the *object URIs* of their inputs in the artifact root (see
:class:`mlstore.pipeline.executor.StepInput`), not a driver-local copy, so a worker on
another machine reads the same bytes the driver verified against their digest. A local
path is a URI too (an artifact root on a local or shared directory). Reads go through
fsspec (``file://``, ``memory://`` in one process, ``s3://``/``gs://`` when their fsspec
package is installed); TFRecord files are read by TensorFlow, which takes local paths and
its own schemes (``gs://``).
"""

from __future__ import annotations

import os
import posixpath
from typing import IO

from mlstore.errors import NotFound

_LOCAL_SCHEME = "file://"


def is_url(uri: str) -> bool:
    """Whether ``uri`` has a scheme (``file://`` included)."""
    return "://" in str(uri)


def absolute(uri: str | os.PathLike) -> str:
    """An absolute form of ``uri``: a local path made absolute, a URL as given."""
    text = os.fspath(uri)
    return text if is_url(text) else os.path.abspath(text)


def local_path(uri: str) -> str | None:
    """The local path ``uri`` names (a path or ``file://``), None for any other URL."""
    if uri.startswith(_LOCAL_SCHEME):
        return uri[len(_LOCAL_SCHEME):]
    return None if is_url(uri) else uri


def _fs(uri: str):
    import fsspec  # noqa: PLC0415

    return fsspec.core.url_to_fs(uri)


def exists(uri: str) -> bool:
    """Whether a file is at ``uri``."""
    path = local_path(uri)
    if path is not None:
        return os.path.isfile(path)
    fs, inner = _fs(uri)
    return fs.isfile(inner)


def open_input(uri: str) -> IO[bytes]:
    """``uri`` opened for binary reading (``.gz`` decompressed).

    Raises:
        NotFound: nothing is at ``uri``.
    """
    import fsspec  # noqa: PLC0415

    if not exists(uri):
        raise NotFound(f"input file {uri!r} does not exist")
    return fsspec.open(uri, "rb", compression="infer").open()


def join(base: str, *parts: str) -> str:
    """``base`` and relative posix ``parts`` joined (``/`` also for URLs)."""
    return posixpath.join(base, *parts) if is_url(base) else os.path.join(base, *parts)


def list_files(base: str) -> list[str]:
    """Relative posix paths of every file under the directory ``base``, sorted.

    Raises:
        NotFound: ``base`` is not a directory.
    """
    path = local_path(base)
    if path is not None:
        if not os.path.isdir(path):
            raise NotFound(f"{base!r} is not a directory")
        found = [os.path.relpath(os.path.join(d, f), path).replace(os.sep, "/")
                 for d, _, files in os.walk(path) for f in files]
        return sorted(found)
    fs, inner = _fs(base)
    if not fs.isdir(inner):
        raise NotFound(f"{base!r} is not a directory")
    inner = inner.rstrip("/")
    return sorted(posixpath.relpath(f, inner) for f in fs.find(inner))
