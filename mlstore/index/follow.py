"""Keeping the index level with other MLMD writers while a process runs.

TFX writes straight to MLMD. A long-running reader (``mlstore serve``, the dashboard)
runs a :class:`Follower`: a daemon thread that every ``interval_s`` indexes what any MLMD
client finished since the last look (:meth:`IndexSync.follow`), on its own MLMD
connection (MLMD's client is not thread-safe). A TFX run that has just finished shows
up within about one interval.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from mlstore import errors
from mlstore._mlmd import Metadata
from mlstore._uri import StoreLocation
from mlstore.index.sync import IndexSync

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0


class Follower:
    """A background thread indexing other writers' executions every ``interval_s`` seconds."""

    def __init__(self, location: StoreLocation, engine: Engine, interval_s: float = DEFAULT_INTERVAL_S):
        if interval_s <= 0:
            raise errors.InvalidArgument(f"follow interval must be > 0 s, not {interval_s}")
        self.interval_s = interval_s
        self._sync = IndexSync(Metadata(location, engine), engine)
        self._stop = threading.Event()
        self.indexed = 0  # executions indexed so far
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="mlstore-follow", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.indexed += self._sync.follow()
                self.last_error = None
            except errors.MlstoreError as e:  # keep following; say it once per distinct error
                if str(e) != self.last_error:
                    log.warning("following ML Metadata: %s", e)
                self.last_error = str(e)

    def stop(self) -> None:
        """Stops the thread (waits for a pass in progress)."""
        self._stop.set()
        self._thread.join()
