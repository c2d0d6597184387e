"""Live OpenLineage: run events sent as executions reach the store (``mlstore serve --openlineage-url``).

A daemon thread polls the index every ``interval_s`` for executions the endpoint has
not acknowledged (:func:`mlstore.index.openlineage_queries.unsent`), whoever wrote them:
RPCs, SDK processes writing the same store, TFX runs the server's follower indexes. The
store is the queue: nothing is held in memory beyond one batch, so a dead endpoint
costs no memory and never touches an RPC. Per execution, in id order:

1. its events (START, then COMPLETE / FAIL / ABORT, as ``mlstore openlineage export``
   builds them: same namespace, same run ids) are posted with the client's
   HttpTransport (a few quick HTTP retries);
2. once the endpoint has answered every one, a row in ``mlstore_openlineage_sent``
   records it (the state sent: a RUNNING execution has had its START only, and gets its
   end event if it finishes later).

An endpoint that fails stops the pass: one warning line per outage, then passes are
retried with exponential backoff (up to ``max_backoff_s``) until it answers again, and
sending resumes at the first execution not acknowledged. Delivery is at-least-once:
an event posted but not yet recorded when the endpoint failed mid-execution (or the
server died) is posted again, with the same runId and eventType, which OpenLineage
consumers (Marquez, DataHub) treat as the same event. An acknowledged execution is
never sent again, across restarts.

Executions already in the store when a destination (URL + endpoint + namespace) is first
served are history: ``mlstore openlineage export --since`` sends them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

from mlstore import errors
from mlstore.index import openlineage_queries as queries
from mlstore.openlineage import http_transport
from mlstore.openlineage.events import EventBuilder, store_namespace

log = logging.getLogger("mlstore.openlineage")

DEFAULT_INTERVAL_S = 2.0
DEFAULT_BATCH = 100
#: Quick retries of one POST inside the transport; longer outages are the poll loop's backoff.
HTTP_RETRY = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.2}


@dataclass(frozen=True)
class EmitterOptions:
    """Where and how ``mlstore serve`` emits OpenLineage events (see ``mlstore serve --help``)."""

    url: str
    endpoint: str = "api/v1/lineage"
    namespace: str | None = None  # default: the store's (as `mlstore openlineage export --store` names it)
    api_key: str | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    max_backoff_s: float = 30.0
    timeout_s: float = 5.0
    batch: int = DEFAULT_BATCH

    def check(self) -> None:
        """Raises InvalidArgument for a URL the client refuses or a bad interval."""
        if self.interval_s <= 0:
            raise errors.InvalidArgument(f"OpenLineage poll interval must be > 0 s, not {self.interval_s}")
        http_transport(self.url, self.endpoint, self.api_key, self.timeout_s).close()


def destination_key(url: str, endpoint: str, namespace: str) -> str:
    """The delivery record's key of a destination: events of one namespace to one endpoint."""
    text = f"{url.rstrip('/')}/{endpoint.lstrip('/')}\n{namespace}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Emitter:
    """Sends the run events of a local store's new executions to an HTTP endpoint, in a thread.

    ``store`` is a :class:`~mlstore.store.Store` (its index is read and the delivery
    record written through its engine); ``start=False`` leaves the thread to the caller
    (tests call :meth:`send_pending`).
    """

    def __init__(self, store, options: EmitterOptions, *, start: bool = True):
        options.check()
        self.store = store
        self.options = options
        self.namespace = options.namespace or store_namespace(store)
        self.destination = destination_key(options.url, options.endpoint, self.namespace)
        self.sent_events = 0  # posted and answered, this process
        self.last_error: str | None = None
        self._failures = 0
        self._transport = http_transport(options.url, options.endpoint, options.api_key, options.timeout_s,
                                         retry=HTTP_RETRY)
        self._floor = self._first_floor()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlstore-openlineage", daemon=True)
        if start:
            self._thread.start()

    def _first_floor(self) -> int:
        with self.store.engine.begin() as connection:
            found = queries.floor(connection, self.destination)
            if found is None:
                found = self.store.newest_execution_id()
                queries.set_floor(connection, self.destination, self.options.url, found)
                log.info("OpenLineage: emitting executions after execution:%d to %s (namespace %s)",
                         found, self.options.url, self.namespace)
        return found

    def send_pending(self) -> int:
        """One pass: sends the events of up to ``batch`` executions not acknowledged; returns how many
        executions were acknowledged.

        Raises:
            Unavailable: the endpoint failed (those before it stay acknowledged).
        """
        from requests import RequestException  # noqa: PLC0415

        with self.store.engine.connect() as connection:
            pending = queries.unsent(connection, self.destination, self._floor, self.options.batch)
        if not pending:
            return 0
        builder = EventBuilder(self.store, self.namespace)  # per pass: artifacts and blessings change
        done = 0
        for execution, sent_state in pending:
            events = builder.execution_events(execution)
            if sent_state == "RUNNING":
                events = events[1:]  # its START is acknowledged: only the end event is new
            for event in events:
                try:
                    self._transport.emit(event)
                except RequestException as e:
                    raise errors.Unavailable(f"OpenLineage endpoint {self.options.url} failed on "
                                             f"{event.eventType.value} of execution:{execution.id}: "
                                             f"{type(e).__name__}: {e}") from e
                self.sent_events += 1
            with self.store.engine.begin() as connection:
                queries.mark_sent(connection, self.destination, execution.id, execution.state,
                                  had_row=sent_state is not None)
            done += 1
        return done

    def _run(self) -> None:
        delay = self.options.interval_s
        while not self._stop.wait(delay):
            try:
                while self.send_pending() == self.options.batch and not self._stop.is_set():
                    pass  # a full batch: more are waiting
            except errors.MlstoreError as e:
                self._failed(e)
            except Exception as e:  # noqa: BLE001 - the thread must outlive any one bad pass
                self._failed(e)
            else:
                if self._failures:
                    log.info("OpenLineage endpoint %s answers again; sending resumed", self.options.url)
                self._failures, self.last_error = 0, None
            delay = self._delay()

    def _failed(self, error: Exception) -> None:
        if self._failures == 0:  # one line per outage, not one per retry
            log.warning("OpenLineage: %s; retrying with backoff (up to %.0f s), RPCs are not affected",
                        error, self.options.max_backoff_s)
        self._failures += 1
        self.last_error = str(error)

    def _delay(self) -> float:
        if not self._failures:
            return self.options.interval_s
        return min(self.options.max_backoff_s, self.options.interval_s * 2 ** min(self._failures - 1, 16))

    def stop(self) -> None:
        """Stops the thread (waits for a pass in progress) and closes the transport."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._transport.close()
