"""The Store facade: one object for the write path and the query path.

>>> import mlstore
>>> store = mlstore.open("./.mlstore")          # embedded: MLMD on SQLite + local blobs
>>> graph = store.lineage("artifact:12", direction="up")

Writes go MLMD first (the system of record, one transaction per execution), then the
index, made crash-safe by a journal (see :mod:`mlstore.index.sync`). Queries read the
index and the in-memory lineage cache, never MLMD's deprecated filter queries.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.exc import DatabaseError

from mlstore import errors, schema
from mlstore._mlmd import Metadata
from mlstore._records import (ExecutionRecord, LoggedExecution, OutputArtifact, PendingOutput,
                              check_pending_inputs, check_write, context_messages, stored_events,
                              subgraph_messages)
from mlstore._uri import StoreLocation
from mlstore.artifact_bytes import artifact_local_path, bound_uri, verify_artifacts
from mlstore.artifact_bytes import read_roots as store_read_roots
from mlstore.blobs import BlobStore
from mlstore.index import fingerprints, queries
from mlstore.index import tables as t
from mlstore.index.graph_cache import GraphCache
from mlstore.index.graph_scopes import ScopedCaches
from mlstore.index.graph_snapshot import snapshot_path
from mlstore.index.repair import is_damage, unreadable_message
from mlstore.index.source import StoreSource
from mlstore.index.sync import IndexSync, index_engine, prepare_schema, schema_lock
from mlstore.tfx.records import STANDARD_ARTIFACT_TYPES
from mlstore.lineage import Direction, LineageGraph, lineage_in_scopes
from mlstore.store_api import BytesReport, StoreAPI, check_targets
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from mlstore.diff import RunDiff
    from mlstore.gc.policy import RetentionPolicy
    from mlstore.gc.pins import Pin
    from mlstore.gc.sweep import GcResult
    from mlstore.index.gc_queries import GcIndex
    from mlstore.index.follow import Follower
    from mlstore.warmstart.from_store import CompatibilityRequirement
    from mlstore.warmstart.policies import Selection
    from mlstore.push import PushResult

__all__ = ["BytesReport", "ExecutionBatch", "ExecutionRecord", "LoggedExecution", "OutputArtifact", "PendingExecution",
           "PendingOutput", "Store"]


_INSERT_JOURNAL = insert(t.journal)


def _existing_spans(connection, ids: list[int]) -> dict[int, int | None]:
    """``{id: span}`` of the given artifacts; raises NotFound (rolling back) for one that does not exist."""
    if not ids:
        return {}
    spans = queries.spans_by_id(connection, ids)
    missing = [i for i in ids if i not in spans]
    if missing:
        raise errors.NotFound(f"input artifact:{missing[0]} does not exist")
    return spans


class PendingExecution:
    """An execution added to an :class:`ExecutionBatch`; its ids exist once the batch is written."""

    def __init__(self, index: int, output_count: int):
        self.outputs = tuple(PendingOutput(index, i) for i in range(output_count))
        self.logged: LoggedExecution | None = None

    @property
    def execution_id(self) -> int:
        return self._written().execution_id

    @property
    def output_ids(self) -> tuple[int, ...]:
        return self._written().output_ids

    def _written(self) -> LoggedExecution:
        if self.logged is None:
            raise errors.FailedPrecondition("the batch has not been written yet: ids exist after its with block")
        return self.logged


class ExecutionBatch:
    """Executions of one pipeline run written in one transaction (see :meth:`Store.batch`)."""

    def __init__(self, store: "Store", pipeline: str, run_id: str | None):
        self._store, self._pipeline, self._run_id = store, pipeline, run_id
        self._records: list[ExecutionRecord] = []
        self._pending: list[PendingExecution] = []

    def log_execution(self, step: str, *, inputs: Sequence[tuple[int | PendingOutput, str]] = (),
                      outputs: Sequence[OutputArtifact] = (), properties: Mapping[str, Any] | None = None,
                      state: str = "COMPLETE", reused_outputs: Sequence[tuple[int, str]] = ()) -> PendingExecution:
        """Adds an execution (arguments as :meth:`Store.log_execution`); names and types are checked now.

        Inputs may be ``pending.outputs[i]`` of an execution added before.
        """
        check_write(step, self._pipeline, outputs, state, self._run_id,
                    [role for _, role in (*inputs, *reused_outputs)])
        record = ExecutionRecord(step, tuple(inputs), tuple(outputs), properties, state, tuple(reused_outputs))
        check_pending_inputs(self._records, record)
        self._records.append(record)
        self._pending.append(PendingExecution(len(self._pending), len(record.outputs)))
        return self._pending[-1]

    def __enter__(self) -> "ExecutionBatch":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None or not self._records:
            return
        logged = self._store.log_executions(self._pipeline, self._records, run_id=self._run_id)
        for pending, result in zip(self._pending, logged):
            pending.logged = result


class Store(StoreAPI):
    """The embedded store (a :class:`~mlstore.store_api.StoreAPI`): MLMD (system of record) + blobs + the index."""

    def __init__(self, location: StoreLocation, *, read_roots: Iterable[str] | None = None,
                 check_source: bool = True, catch_up: bool = True):
        """Opens the store at ``location``.

        ``check_source`` and ``catch_up`` are turned off by ``reindex`` only, which
        checks the source itself and rebuilds everything anyway.

        Raises:
            FailedPrecondition: the index does not derive from this ML Metadata
                database: MLMD is missing, empty or another database (see
                :mod:`mlstore.index.source`).
            IndexDamaged: the index file is corrupt (``mlstore reindex`` rebuilds it).
        """
        try:
            self._open(location, read_roots, check_source, catch_up)
        except DatabaseError as e:
            if not is_damage(e):
                raise
            raise errors.IndexDamaged(unreadable_message(location.uri, str(e.orig))) from None

    def _open(self, location: StoreLocation, read_roots: Iterable[str] | None, check_source: bool,
              catch_up: bool) -> None:
        self.location = location
        self.engine = index_engine(location)
        with schema_lock(location, self.engine):  # one process creates a new store's schemas
            self.metadata = Metadata(location, self.engine)
            prepare_schema(self.engine, location.uri)
        self.blobs = BlobStore(location.artifact_root)
        self.read_roots = store_read_roots(self.blobs, read_roots, location)
        self.graph_cache = GraphCache(self.engine, snapshot_path(location))
        self.graph_scopes = ScopedCaches(self.engine)  # per pipeline group, once the store outgrows their bound
        self._sync = IndexSync(self.metadata, self.engine)
        self._followers: list = []
        self.source = StoreSource(self.engine, self.metadata, location)
        if check_source:
            self.source.check()
        if catch_up:
            self.catch_up()
        if self.source.needs_record:
            self.source.record()

    @property
    def uri(self) -> str:
        return self.location.uri

    def close(self) -> None:
        for follower in self._followers:
            follower.stop()
        self.engine.dispose()

    # -- index upkeep --------------------------------------------------------------------

    def catch_up(self) -> int:
        """Indexes executions that reached MLMD but not the index (after a crash).

        Returns the number of executions indexed.
        """
        indexed, rebuilt = self._sync.catch_up()
        if rebuilt:
            self._new_graph_cache()
        return indexed

    def _new_graph_cache(self) -> None:
        """A cache that forgets the index before a rebuild, and the snapshot of it."""
        path = snapshot_path(self.location)
        if path is not None:
            path.unlink(missing_ok=True)
        self.graph_cache = GraphCache(self.engine, path)
        self.graph_scopes = ScopedCaches(self.engine)

    def follow(self, interval_s: float = 2.0) -> "Follower":
        """Starts indexing other MLMD writers' executions (TFX runs) every ``interval_s`` seconds.

        :meth:`catch_up` does it once (and runs at open); long-running readers (``serve``,
        the dashboard) follow. Stop the returned :class:`~mlstore.index.follow.Follower`
        with ``.stop()``; :meth:`close` stops it too.
        """
        from mlstore.index.follow import Follower  # noqa: PLC0415 - a thread only long-running readers need

        follower = Follower(self.location, self.engine, interval_s)
        self._followers.append(follower)
        return follower

    def reindex(self, force: bool = False) -> int:
        """Rebuilds the whole index from MLMD. Returns the number of executions indexed.

        Raises:
            FailedPrecondition: without ``force``, when the index does not derive from
                this MLMD (missing, empty or another database): the rebuild would
                replace (or empty) the index with what this MLMD holds.
        """
        problem = self.source.disagreement()
        if problem and not force:
            raise errors.FailedPrecondition(
                f"{problem}: reindex would replace the index with what this ML Metadata holds; restore the "
                f"database, or pass --force to rebuild from it anyway")
        self._new_graph_cache()  # event ids restart after the rebuild
        count = self._sync.rebuild()
        self.source.record(replace=True)
        return count

    # -- write path ----------------------------------------------------------------------

    def log_execution(
        self,
        step: str,
        pipeline: str,
        *,
        inputs: Sequence[tuple[int, str]] = (),
        outputs: Sequence[OutputArtifact] = (),
        properties: Mapping[str, Any] | None = None,
        state: str = "COMPLETE",
        run_id: str | None = None,
        reused_outputs: Sequence[tuple[int, str]] = (),
    ) -> LoggedExecution:
        """Records one execution with its input and output artifacts in one MLMD transaction.

        Args:
            step: execution type (e.g. "Trainer").
            pipeline: pipeline name (the ``pipeline`` context).
            inputs: ``(artifact id, role)`` of existing artifacts the step read.
            outputs: artifacts it produced; their blobs must already be published.
            properties: execution properties (see ``schema.COMMON_EXECUTION_PROPERTIES``);
                other keys are stored as custom properties.
            state: COMPLETE, FAILED, CACHED, RUNNING or CANCELED. Outputs of a run that
                is not COMPLETE/CACHED are recorded ABANDONED, never LIVE.
            run_id: groups executions into a ``pipeline_run`` context.
            reused_outputs: ``(artifact id, role)`` of existing artifacts recorded as
                this execution's outputs too (a cache hit reuses earlier outputs).

        Raises:
            InvalidArgument: unknown type/property/state, malformed names.
            NotFound: an input artifact or an output blob does not exist.
        """
        record = ExecutionRecord(step, inputs, outputs, properties, state, reused_outputs)
        return self.log_executions(pipeline, [record], run_id=run_id)[0]

    def log_executions(self, pipeline: str, records: Sequence[ExecutionRecord], *,
                       run_id: str | None = None) -> list[LoggedExecution]:
        """Records several executions of one pipeline (run) in one MLMD transaction.

        A record's inputs may be outputs of an earlier record (:class:`PendingOutput`),
        so a whole day of a pipeline is one write: all of it or nothing. See also
        :meth:`batch`, which builds the records call by call.

        Raises:
            as :meth:`log_execution`, for any record; nothing is written then.
        """
        records = [self._bind_outputs(pipeline, record, run_id) for record in records]
        existing = sorted({i for record in records for i in record.existing_inputs()})
        with self.engine.begin() as connection:  # one round trip: check the inputs, journal the write
            stored_spans = _existing_spans(connection, existing)
            graph = subgraph_messages(self.metadata, pipeline, run_id, records, stored_spans)
            journal_ids = [execution.external_id for execution in graph.executions]
            created_ms = int(time.time() * 1000)
            queries.execute_many(connection, _INSERT_JOURNAL, ("external_id", "created_ms"),
                                 [(j, created_ms) for j in journal_ids])
        self.metadata.encode_strings(*graph.executions, *graph.artifacts)
        try:
            execution_ids, artifact_ids, _ = self.metadata.call(
                self.metadata.raw.put_lineage_subgraph, graph.executions, graph.artifacts,
                context_messages(self.metadata, pipeline, run_id), graph.edges, reuse_context_if_already_exist=True,
            )
        except BaseException:
            self._sync.forget(journal_ids)
            raise
        stored = self.metadata.call(self.metadata.raw.get_executions_by_id, execution_ids)
        _, rows = self._sync.index_rows(stored, journal_ids=journal_ids, new_artifact_ids=artifact_ids,
                                        events=stored_events(graph, execution_ids, artifact_ids),
                                        new_artifacts=self._new_artifacts(artifact_ids))
        indexed = {row["id"]: row for row in rows or ()}
        logged = []
        for execution_id, first, record in zip(execution_ids, graph.first_output, records):
            output_ids = tuple(artifact_ids[first:first + len(record.outputs)])
            outputs = tuple(queries.artifact_of(indexed[i]) for i in output_ids) if all(
                i in indexed for i in output_ids) else ()
            logged.append(LoggedExecution(execution_id, output_ids, outputs))
        return logged

    def _new_artifacts(self, artifact_ids: Sequence[int]):
        """MLMD's records of a write's new artifacts (the only ones the index needs when each has a span)."""
        return self.metadata.call(self.metadata.raw.get_artifacts_by_id, artifact_ids) if artifact_ids else []

    def _bind_outputs(self, pipeline: str, record: ExecutionRecord, run_id: str | None) -> ExecutionRecord:
        """``record`` checked, its outputs' uris bound to their digests (derived when empty).

        Raises:
            InvalidArgument: a malformed record, or an output uri that is not its blob's.
            NotFound: an output blob is not in the store.
        """
        check_write(record.step, pipeline, record.outputs, record.state, run_id,
                    [role for _, role in (*record.inputs, *record.reused_outputs)])
        outputs = []
        for output in record.outputs:
            if not self.blobs.exists(output.digest):
                raise errors.NotFound(f"blob {output.digest} is not in the store; publish it first")
            outputs.append(dataclasses.replace(output, uri=bound_uri(self.blobs, output.digest, output.uri,
                                                                     output.role)))
        return dataclasses.replace(record, outputs=tuple(outputs))

    def batch(self, pipeline: str, *, run_id: str | None = None) -> "ExecutionBatch":
        """Collects executions and writes them together when the ``with`` block exits.

        >>> with store.batch("daily", run_id="2013-01-02") as batch:
        ...     examples = batch.log_execution("ExampleGen", outputs=[data]).outputs[0]
        ...     graph = batch.log_execution("Transform", inputs=[(examples, "examples")], outputs=[tg])
        >>> graph.output_ids   # known once the block has exited

        Nothing is written if the block raises.
        """
        return ExecutionBatch(self, pipeline, run_id)

    # -- query path ----------------------------------------------------------------------

    def resolve(self, ref: str | int | NodeId | Artifact | Execution) -> NodeId:
        """Resolves ``artifact:<n>``, ``execution:<n>`` or a unique ``sha256:`` prefix to a node.

        A digest shared by several artifacts (identical content logged twice) resolves
        to the newest of them.

        Raises:
            InvalidArgument / AmbiguousReference: malformed or ambiguous reference.
            NotFound: nothing matches.
        """
        node, exists = self._parse_ref(ref)
        if not exists:
            with self.engine.connect() as connection:
                table = t.artifact if node.kind == "artifact" else t.execution
                if connection.scalar(select(table.c.id).where(table.c.id == node.id)) is None:
                    raise errors.NotFound(f"{node} does not exist in {self.uri}")
        return node

    def _parse_ref(self, ref) -> tuple[NodeId, bool]:
        """``(node, exists)``: :meth:`resolve` without its existence query.

        ``exists`` is True when no check is needed: an Artifact / Execution (read from
        the store) or a digest prefix (found by looking it up).
        """
        if isinstance(ref, (Artifact, Execution)):
            return ref.node_id, True
        if isinstance(ref, NodeId):
            return ref, False
        if isinstance(ref, int) and not isinstance(ref, bool):
            if not 0 < ref < 2**63:
                raise errors.InvalidArgument(f"bad artifact id ({ref.bit_length()}-bit integer): ids are int64 > 0")
            return NodeId("artifact", ref), False
        if not isinstance(ref, str) and isinstance(getattr(ref, "artifact", None), Artifact):
            return ref.artifact.node_id, True  # a resolved handle (the SDK's PendingOutput)
        if not isinstance(ref, str):
            if hasattr(ref, "node_id") and hasattr(ref, "role"):  # an SDK output still pending
                ref.node_id  # noqa: B018 - raises FailedPrecondition: no id before its run ends
            raise errors.InvalidArgument(
                f"a reference must be artifact:N, execution:N, sha256:PREFIX, an int or a record, "
                f"not {type(ref).__name__}")
        if ref.startswith("sha256:"):
            return NodeId("artifact", self._resolve_digest(ref)), True
        return NodeId.parse(ref), False

    def _resolve_digest(self, prefix: str) -> int:
        hexpart = prefix[len("sha256:"):].lower()
        if not hexpart or any(c not in "0123456789abcdef" for c in hexpart) or len(hexpart) > 64:
            raise errors.InvalidArgument(f"bad digest prefix {prefix!r}: expected sha256:<hex>")
        with self.engine.connect() as connection:
            matches = queries.artifact_ids_by_digest_prefix(connection, "sha256:" + hexpart)
        digests = sorted({d for _, d in matches})
        if not digests:
            raise errors.NotFound(f"no artifact has a digest starting with {prefix}")
        if len(digests) > 1:
            raise errors.AmbiguousReference(
                f"digest prefix {prefix} is ambiguous: matches {', '.join(d[:19] for d in digests[:5])}"
            )
        return matches[0][0]

    def artifact(self, ref) -> Artifact:
        """The artifact ``ref`` refers to (id, node id string, digest prefix).

        Raises:
            NotFound: no such artifact. InvalidArgument: ``ref`` names an execution.
        """
        node, _ = self._parse_ref(ref)
        if node.kind != "artifact":
            self.resolve(node)  # NotFound for a missing execution
            raise errors.InvalidArgument(f"{node} is an execution, not an artifact")
        with self.engine.connect() as connection:
            found = queries.artifact_by_id(connection, node.id)
        if found is None:
            raise errors.NotFound(f"{node} does not exist in {self.uri}")
        return found

    def execution(self, ref) -> Execution:
        """The execution ``ref`` refers to."""
        if isinstance(ref, int) and not isinstance(ref, bool) and not 0 < ref < 2**63:
            raise errors.InvalidArgument(f"bad execution id ({ref.bit_length()}-bit integer): ids are int64 > 0")
        node, _ = self._parse_ref(NodeId("execution", ref) if isinstance(ref, int) and not isinstance(ref, bool) else ref)
        if node.kind != "execution":
            self.resolve(node)  # NotFound for a missing artifact
            raise errors.InvalidArgument(f"{node} is an artifact, not an execution")
        with self.engine.connect() as connection:
            found = queries.execution_by_id(connection, node.id)
        if found is None:
            raise errors.NotFound(f"{node} does not exist in {self.uri}")
        return found

    def artifacts(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                  after_id: int = 0, limit: int | None = None, order: str = "asc",
                  before_id: int | None = None, since_ms: int | None = None) -> list[Artifact]:
        """Artifacts in id order, optionally filtered; page with ``after_id``.

        ``order="desc"`` lists newest first (page back with ``before_id``, the last id
        seen); ``since_ms`` keeps those created at or after that epoch millisecond.
        """
        if type is not None:
            self._check_artifact_type(type)
        _check_order(order)
        with self.engine.connect() as connection:
            return queries.list_artifacts(connection, type=type, pipeline=pipeline, state=state,
                                          after_id=after_id, limit=limit, order=order,
                                          before_id=before_id, since_ms=since_ms)

    def executions(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                   after_id: int = 0, limit: int | None = None, order: str = "asc",
                   before_id: int | None = None, since_ms: int | None = None) -> list[Execution]:
        """Executions in id order, optionally filtered; paging as in :meth:`artifacts`."""
        _check_order(order)
        with self.engine.connect() as connection:
            return queries.list_executions(connection, type=type, pipeline=pipeline, state=state,
                                           after_id=after_id, limit=limit, order=order,
                                           before_id=before_id, since_ms=since_ms)

    def events(self, ref) -> list[EventRecord]:
        """Inputs and outputs of an execution, or the events touching an artifact."""
        node, exists = self._parse_ref(ref)
        with self.engine.connect() as connection:
            if node.kind == "execution":
                found = queries.events_of_execution(connection, node.id)
            else:
                found = queries.events_of_artifact(connection, node.id)
        if not found and not exists:
            self.resolve(node)  # NotFound when there are no events because there is no node
        return found

    def lineage(self, start, direction: Direction = "up", depth: int | None = None,
                types: Sequence[str] = ()) -> LineageGraph:
        """The lineage graph around one or more nodes, at any depth (no silent cap).

        Args:
            start: a reference or a list of references (see :meth:`resolve`).
            direction: "up", "down" or "both".
            depth: maximum hops (artifact→execution is one hop), None for unlimited.
            types: keep only nodes of these types (start nodes are always kept).
        """
        refs = start if isinstance(start, (list, tuple)) else [start]
        if not refs:
            raise errors.InvalidArgument("lineage needs at least one start node")
        for type_name in types:
            if not self._is_artifact_type(type_name) and not self._is_execution_type(type_name):
                raise errors.InvalidArgument(f"unknown type {type_name!r} in type filter")
        nodes = [self.resolve(r) for r in refs]
        return lineage_in_scopes(self.graph_cache, self.graph_scopes, nodes, direction, depth, types)

    def _is_artifact_type(self, name: str) -> bool:
        """mlstore's and TFX's artifact types, and any other writer's type the index holds."""
        if name in schema.ARTIFACT_TYPES or name in STANDARD_ARTIFACT_TYPES:
            return True
        with self.engine.connect() as connection:
            return connection.scalar(select(t.artifact.c.id).where(t.artifact.c.type == name).limit(1)) is not None

    def _check_artifact_type(self, name: str) -> None:
        if not self._is_artifact_type(name):
            schema.artifact_type(name)  # InvalidArgument naming the known types

    def _is_execution_type(self, name: str) -> bool:
        with self.engine.connect() as connection:
            return connection.scalar(select(t.execution.c.id).where(t.execution.c.type == name).limit(1)) is not None

    def metric_series(self, pipeline: str, metric: str, slice: str = "Overall") -> list[MetricPoint]:
        """Every model's value of ``metric`` on ``slice`` in ``pipeline``, ordered by span.

        Raises:
            InvalidArgument: empty pipeline or metric name. NotFound: nothing is recorded
                in ``pipeline``, or it has no evaluation with ``metric`` (an unknown slice
                is an empty series).
        """
        _check_name("pipeline", pipeline)
        _check_name("metric", metric)
        with self.engine.connect() as connection:
            points = queries.metric_series(connection, pipeline, metric, slice)
            if not points:
                self._check_pipeline(connection, pipeline)
                names = queries.metric_names(connection, pipeline)
                if metric not in names:
                    raise errors.NotFound(f"no metric {metric!r} in pipeline {pipeline!r}; "
                                          f"recorded: {', '.join(names) or 'none'}")
            return points

    def daily_models(self, pipeline: str, *, newest: int | None = None) -> list[Artifact]:
        """The daily model of each span in ``pipeline``, oldest span first.

        The daily model of a span is its newest LIVE Model not produced by ``mlstore
        rerun`` (reruns verify a day and are left out). ``newest=N`` keeps the last N spans.

        Raises:
            InvalidArgument: empty pipeline, ``newest`` < 1. NotFound: nothing recorded in ``pipeline``.
        """
        from mlstore.index import model_queries  # noqa: PLC0415

        _check_name("pipeline", pipeline)
        if newest is not None and (isinstance(newest, bool) or not isinstance(newest, int) or newest < 1):
            raise errors.InvalidArgument(f"newest must be an integer >= 1, not {newest!r}")
        with self.engine.connect() as connection:
            ids = model_queries.daily_model_ids(connection, pipeline)
            if not ids:
                self._check_pipeline(connection, pipeline)
            ids = ids[-newest:] if newest else ids
            found = queries.artifacts_by_id(connection, ids)
        return [found[i] for i in ids]

    def newest_daily_model(self, pipeline: str) -> Artifact | None:
        """The daily model of the newest span (see :meth:`daily_models`); None when none yet."""
        found = self.daily_models(pipeline, newest=1)
        return found[0] if found else None

    def _check_pipeline(self, connection, pipeline: str) -> None:
        """NotFound, in the CLI's words, when nothing is recorded in ``pipeline``."""
        from mlstore.index import model_queries  # noqa: PLC0415

        if not model_queries.pipeline_exists(connection, pipeline):
            raise errors.NotFound(f"no pipeline {pipeline!r} in {self.uri}; `mlstore ls` lists what is recorded")

    def evaluation_metrics(self, ref) -> dict[str, dict[str, float]]:
        """``{slice: {metric: value}}`` of a ModelEvaluation artifact."""
        node, _ = self._parse_ref(ref)
        metrics: dict[str, dict[str, float]] = {}
        if node.kind == "artifact":
            with self.engine.connect() as connection:
                metrics = queries.metrics_of_evaluation(connection, node.id)
        if not metrics:
            self.artifact(node)  # NotFound / InvalidArgument for a bad reference
        return metrics

    def latest_blessed(self, pipeline: str) -> Artifact | None:
        """The blessed model with the newest span in ``pipeline`` (None when none is blessed).

        Raises:
            InvalidArgument: empty pipeline name. NotFound: nothing is recorded in ``pipeline``.
        """
        _check_name("pipeline", pipeline)
        with self.engine.connect() as connection:
            model_id = queries.latest_blessed_model_id(connection, pipeline)
            if model_id is None:
                self._check_pipeline(connection, pipeline)
            return queries.artifacts_by_id(connection, [model_id])[model_id] if model_id else None

    def blessings(self, *, pipeline: str | None = None, model: Any = None) -> list[Blessing]:
        """Gate decisions, oldest first, optionally for one pipeline or one model."""
        model_id = self.artifact(model).id if model is not None else None
        with self.engine.connect() as connection:
            return queries.blessings(connection, pipeline=pipeline, model_id=model_id)

    def pipelines(self) -> list[str]:
        """Names of every pipeline with at least one execution."""
        with self.engine.connect() as connection:
            return queries.pipelines(connection)

    def push(self, model: Any, to: str, name: str, *, force: bool = False,
             pipeline: str | None = None) -> "PushResult":
        """Pushes a blessed Model to TF Serving's ``<to>/<name>/<next version>/`` and records it.

        See :func:`mlstore.push.push_model` (arguments, errors, what is recorded).
        """
        from mlstore.push import push_model  # noqa: PLC0415 - the SDK it records with imports this module

        return push_model(self, model, to, name, force=force, pipeline=pipeline)

    def diff(self, a: Any, b: Any) -> "RunDiff":
        """What differs between two runs: executions, or artifacts (their producing runs).

        See :func:`mlstore.diff.diff_runs` (sections, errors).
        """
        from mlstore.diff import diff_runs  # noqa: PLC0415

        return diff_runs(self, a, b)

    # -- warm start ----------------------------------------------------------------------

    def requirement_of_model(self, ref: Any, *,
                             layer_patterns: tuple[str, ...] | None = None) -> "CompatibilityRequirement":
        """"Compatible with model ``ref``" (see :func:`mlstore.warmstart.from_store.requirement_of_model`)."""
        from mlstore.warmstart import from_store  # noqa: PLC0415 - warm start reads the store through this class

        return from_store.requirement_of_model(self, ref, layer_patterns=layer_patterns)

    def select_warm_start(self, pipeline: str, policy: str = "latest_blessed", *, metric: str | None = None,
                          slice: str = "Overall", as_of: int | None = None,
                          require_compatible: "CompatibilityRequirement | None" = None,
                          higher_is_better: bool | None = None, exclude: Sequence[int] = (),
                          explain: str = "ranked") -> "Selection":
        """The warm-start base of ``pipeline``'s next run.

        See :func:`mlstore.warmstart.from_store.select_warm_start` (arguments, errors).
        """
        from mlstore.warmstart import from_store  # noqa: PLC0415

        return from_store.select_warm_start(
            self, pipeline, policy, metric=metric, slice=slice, as_of=as_of, require_compatible=require_compatible,
            higher_is_better=higher_is_better, exclude=exclude, explain=explain)

    # -- retention (pins and gc) ---------------------------------------------------------

    def set_custom_properties(self, ref: Any, values: Mapping[str, str | int | None]) -> None:
        """Sets (None: removes) custom properties of an artifact in MLMD, then in the index.

        Raises:
            NotFound: no such artifact.
        """
        from mlstore.index.artifact_updates import set_custom_properties  # noqa: PLC0415

        set_custom_properties(self.metadata, self.engine, self.artifact(ref).id, values)

    def gc_index(self) -> "GcIndex":
        """This store's MLMD and index as :mod:`mlstore.gc` reads and writes them (local stores only)."""
        from mlstore.index.gc_queries import GcIndex  # noqa: PLC0415

        return GcIndex(self.metadata, self.engine)

    def collect_garbage(self, policy: "RetentionPolicy", *, dry_run: bool = False,
                        progress: Callable[[str], None] | None = None, batch_size: int | None = None) -> "GcResult":
        """Reclaims what ``policy`` does not keep: see :func:`mlstore.gc.sweep.collect`."""
        from mlstore.gc import sweep  # noqa: PLC0415 - gc plans from this class's queries

        return sweep.collect(self, policy, dry_run=dry_run, progress=progress,
                             batch_size=sweep.MARK_BATCH if batch_size is None else batch_size)

    def pin(self, ref: Any, reason: str = "") -> "Pin":
        """Pins an artifact so gc always keeps it. See :func:`mlstore.gc.pin`."""
        from mlstore.gc import pin  # noqa: PLC0415

        return pin(self, ref, reason)

    def unpin(self, ref: Any) -> bool:
        """Removes a pin (False: it was not pinned). See :func:`mlstore.gc.unpin`."""
        from mlstore.gc import unpin  # noqa: PLC0415

        return unpin(self, ref)

    def pins(self) -> list["Pin"]:
        """Every pinned artifact, in id order."""
        from mlstore.gc import list_pins  # noqa: PLC0415

        return list_pins(self)

    # -- data validation (TFDV statistics and anomalies) --------------------------------

    def statistics_summary(self, ref: Any, split: str | None = None) -> dict[str, Any]:
        """Per split, per feature rows of an ExampleStatistics artifact (``mlstore stats show``).

        See :func:`mlstore.components.statistics.reads.statistics_report` (shape, errors).
        """
        from mlstore.components.statistics import reads  # noqa: PLC0415 - tensorflow_metadata on demand

        return reads.statistics_report(self, ref, split)

    def statistics_drift(self, a: Any, b: Any, *, split: str | None = None, threshold: float | None = None,
                         schema: Any = None) -> dict[str, Any]:
        """Per feature drift of ExampleStatistics ``b`` from ``a`` (``mlstore stats diff``).

        See :func:`mlstore.components.statistics.reads.drift_report` (``threshold`` None:
        the default 0.1; shape, errors).
        """
        from mlstore.components.statistics import reads, summary  # noqa: PLC0415

        return reads.drift_report(self, a, b, split=split, schema=schema,
                                  threshold=summary.DEFAULT_DRIFT_THRESHOLD if threshold is None else threshold)

    def anomalies_summary(self, ref: Any) -> dict[str, Any]:
        """Per split, per feature anomalies of an ExampleAnomalies artifact (``mlstore anomalies``).

        See :func:`mlstore.components.statistics.reads.anomalies_report` (shape, errors).
        """
        from mlstore.components.statistics import reads  # noqa: PLC0415

        return reads.anomalies_report(self, ref)

    def schema_summary(self, ref: Any) -> dict[str, Any]:
        """The features of a Schema artifact (``mlstore schema show``).

        See :func:`mlstore.components.statistics.reads.schema_report` (shape, errors).
        """
        from mlstore.components.statistics import reads  # noqa: PLC0415

        return reads.schema_report(self, ref)

    # -- bytes ---------------------------------------------------------------------------

    def check_bytes(self, refs: Sequence[Any] = ()) -> "BytesReport":
        """Re-hashes artifacts' bytes: mlstore's blobs against their digest, bytes another
        writer recorded (TFX's) against the fingerprint taken when they were indexed.

        Args:
            refs: artifacts to check; all non-DELETED ones when empty.
        """
        targets = check_targets(self, refs)
        own = [a for a in targets if a.digest]
        hashed, unhashed, corrupted = fingerprints.check(self.engine, [a for a in targets if not a.digest],
                                                         self.read_roots)
        corrupted.update(verify_artifacts(self.blobs, own, self.read_roots))
        return BytesReport(len(own) + len(hashed), unhashed, corrupted)

    def content_digest(self, ref) -> str | None:
        """The digest of an artifact's bytes: its own for mlstore's blobs, the fingerprint
        taken when the index first saw it for bytes another writer (TFX) recorded; None
        when there is neither."""
        artifact = ref if isinstance(ref, Artifact) else self.artifact(ref)
        if artifact.digest:
            return artifact.digest
        found = fingerprints.recorded(self.engine, [artifact.id]).get(artifact.id)
        return found.digest if found else None

    def local_path(self, ref) -> str:
        """A local path holding the artifact's verified bytes (downloaded first when remote).

        An :class:`Artifact` is used as given (its digest and uri never change). Bytes
        another writer (TFX) recorded are checked against their fingerprint first.

        Raises:
            NotFound: the bytes are gone. IntegrityError: they differ from the digest
                (or, for another writer's bytes, from their fingerprint).
            PermissionDenied: an external artifact outside the store's read roots.
        """
        artifact = ref if isinstance(ref, Artifact) else self.artifact(ref)
        if not artifact.digest:
            return str(fingerprints.verified_path(self.engine, artifact, self.read_roots))
        return artifact_local_path(self.blobs, artifact, self.read_roots)

    # -- catalogue queries for browsing (the dashboard) ----------------------------------

    def read_index(self) -> "ContextManager[Connection]":
        """A read connection to the index, for the query functions of :mod:`mlstore.index`
        (warm start's walk over model pages); local stores only.

        >>> with store.read_index() as connection:
        ...     rows = model_queries.model_rows(connection, "daily")
        """
        return self.engine.connect()

    def index_revision(self) -> str | None:
        """The index schema's migration revision (None for a database never migrated)."""
        from mlstore.index import migrate  # noqa: PLC0415 - alembic on demand

        return migrate.current_revision(self.engine)

    def artifact_named(self, type: str, name: str) -> Artifact | None:
        """The artifact of ``type`` that holds MLMD name ``name``, once the index has it.

        The index is written right after MLMD's commit: when another writer has just
        committed the name, this waits for its index write (up to 5 s), then indexes
        what MLMD holds itself (:meth:`catch_up`). None when MLMD has no such artifact.
        """
        stored = self.metadata.call(self.metadata.raw.get_artifact_by_type_and_name, type, name)
        if stored is None:
            return None
        for _ in range(100):
            try:
                return self.artifact(f"artifact:{stored.id}")
            except errors.NotFound:
                time.sleep(0.05)
        self.catch_up()
        return self.artifact(f"artifact:{stored.id}")

    def cached_execution_ids(self, cache_key: str) -> list[int]:
        """Ids of COMPLETE executions recorded with ``cache_key`` (the pipeline cache), newest first."""
        with self.engine.connect() as connection:
            return queries.complete_execution_ids_by_cache_key(connection, cache_key)

    def newest_execution_id(self) -> int:
        """The id of the newest execution (0 for an empty store): a cheap store version."""
        with self.engine.connect() as connection:
            return queries.newest_execution_id(connection)

    def metric_names(self, pipeline: str) -> list[str]:
        """Sorted names of every metric evaluated in ``pipeline`` ([] when none)."""
        with self.engine.connect() as connection:
            return queries.metric_names(connection, pipeline)

    def slices(self, pipeline: str, metric: str | None = None) -> list[str]:
        """Slice keys evaluated in ``pipeline`` (with ``metric``, when given): "Overall" first, then sorted."""
        with self.engine.connect() as connection:
            keys = queries.slice_keys(connection, pipeline, metric)
        return sorted(keys, key=lambda k: (k != "Overall", k))


def _check_name(what: str, value) -> None:
    if not isinstance(value, str) or not value:
        raise errors.InvalidArgument(f"{what} must be a non-empty name, not {value!r}")


def _check_order(order: str) -> None:
    if order not in ("asc", "desc"):
        raise errors.InvalidArgument(f"order must be 'asc' or 'desc', not {order!r}")
