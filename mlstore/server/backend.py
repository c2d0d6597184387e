"""What every service shares: the store that answers queries and a pool of writers.

Queries run on one :class:`~mlstore.store.Store`: they only touch the index through
SQLAlchemy, whose engine is thread-safe. Writes go through MLMD, whose Python client is
not safe to share between threads, so each concurrent writer borrows its own Store
(its own MLMD connection) from a small pool. The server keeps no other state, so any
number of replicas can serve one database.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Iterator

from mlstore import errors
from mlstore.server.status import hide
from mlstore.store import Store

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10000


class Backend:
    """The shared store, ``writers`` write connections and ``heavy_slots`` lineage slots."""

    def __init__(self, uri: str, writers: int = 4, heavy_slots: int = 1, follow_interval_s: float = 2.0,
                 heavy_waiting: int | None = None):
        self.reader = _open(uri)
        # Other MLMD writers (TFX) write no journal: their runs are picked up by following.
        self.follower = self.reader.follow(follow_interval_s)
        if self.reader.location.database is not None:
            hide(self.reader.location.database.password)
        if self.reader.location.directory is not None:
            # NotFound messages name the store ("... does not exist in <uri>"): a client
            # must not learn the server's local paths.
            hide(str(self.reader.uri), "the store")
            hide(str(self.reader.location.directory), "the store")
            hide(str(self.reader.location.directory.resolve()), "the store")
            writers = 1  # SQLite has one writer at a time anyway; more would only busy-wait
        # Why: lineage of a long warm-start chain costs ~0.1-1 s of Python CPU; a dozen of
        # them at once would starve every cheap call of the GIL. At most `heavy_slots`
        # run at a time; the rest wait (within their deadline).
        self._heavy = threading.BoundedSemaphore(max(1, heavy_slots))
        # A call waiting for a slot holds an RPC thread: at most `heavy_waiting` may wait,
        # so the threads left always serve cheap calls (GetStoreInfo, GetArtifact...).
        self._heavy_waiting_max = heavy_waiting
        self._heavy_waiting = 0
        self._heavy_lock = threading.Lock()
        self._writers: queue.Queue[Store] = queue.Queue()
        self._all = [self.reader] + [_open(uri) for _ in range(max(1, writers))]
        for store in self._all[1:]:
            self._writers.put(store)

    @property
    def backend_name(self) -> str:
        location = self.reader.location
        return "sqlite" if location.directory is not None else location.database.dialect

    @contextmanager
    def writer(self, timeout: float | None = None) -> Iterator[Store]:
        """Borrows a write connection (waits for a free one up to ``timeout`` seconds).

        Raises:
            Unavailable: no writer became free in time.
        """
        try:
            store = self._writers.get(timeout=timeout)
        except queue.Empty:
            raise errors.Unavailable("all write connections are busy; retry later") from None
        try:
            yield store
        finally:
            self._writers.put(store)

    @contextmanager
    def heavy(self, timeout: float | None) -> Iterator[None]:
        """Holds one of the slots for expensive queries (waits up to ``timeout`` seconds).

        Raises:
            Unavailable: no slot became free in time, or as many calls as may wait already do
                (answered at once: the caller retries with backoff, and RPC threads stay free
                for cheap calls).
        """
        with self._heavy_lock:
            if self._heavy_waiting_max is not None and self._heavy_waiting >= self._heavy_waiting_max:
                raise errors.Unavailable(f"the server is busy: {self._heavy_waiting} lineage queries are already "
                                         f"waiting; retry later")
            self._heavy_waiting += 1
        try:
            acquired = self._heavy.acquire(timeout=timeout)
        finally:
            with self._heavy_lock:
                self._heavy_waiting -= 1
        if not acquired:
            raise errors.Unavailable("the server is busy with other lineage queries; retry with a longer deadline")
        try:
            yield
        finally:
            self._heavy.release()

    def close(self) -> None:
        for store in self._all:
            store.close()


def _open(uri: str) -> Store:
    from mlstore._uri import parse_store_uri  # noqa: PLC0415

    location = parse_store_uri(uri)
    if location.server is not None:
        raise errors.InvalidArgument("mlstore serve needs a local or database store, not grpc://")
    return Store(location)


def page_size(requested: int) -> int:
    """The page size for a request (0 = default, capped at MAX_PAGE_SIZE).

    Raises:
        InvalidArgument: a negative page size.
    """
    if requested < 0:
        raise errors.InvalidArgument(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
