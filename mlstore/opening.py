"""``mlstore.open``: the store a URI names, local or remote, as one :class:`~mlstore.store_api.StoreAPI`."""

from __future__ import annotations

from typing import Iterable

from mlstore._uri import parse_store_uri
from mlstore.store import Store
from mlstore.store_api import StoreAPI

__all__ = ["open"]


def open(uri: str | None = None, *, read_roots: Iterable[str] | None = None) -> StoreAPI:  # noqa: A001
    """Opens (creating if needed) the store at ``uri``.

    Args:
        uri: a directory, ``mysql://``, ``postgresql://`` or ``grpc://`` URI; default
            ``$MLSTORE_URI`` or ``./.mlstore``.
        read_roots: folders besides the store's blob root under which external
            artifacts (uris outside the blob root, e.g. written by TFX) may be read;
            default ``$MLSTORE_READ_ROOTS`` (``os.pathsep``-separated).

    Returns:
        A :class:`mlstore.store.Store` for a directory or a database, a
        :class:`mlstore.client.RemoteStore` for ``grpc://``.

    Raises:
        InvalidArgument: malformed URI.
        Unavailable: the database or server cannot be reached.
        FailedPrecondition: the index needs ``mlstore db upgrade``.
    """
    location = parse_store_uri(uri)
    if location.server is not None:
        from mlstore.client import RemoteStore  # noqa: PLC0415 - the gRPC stubs load on demand

        return RemoteStore(location, read_roots=read_roots)
    return Store(location, read_roots=read_roots)
