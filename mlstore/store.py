"""The Store facade: one object for the write path and the query path.

>>> import mlstore
>>> store = mlstore.open("./.mlstore")          # embedded: MLMD on SQLite + local blobs
>>> graph = store.lineage("artifact:12", direction="up")

Writes go MLMD first (the system of record, one transaction per execution), then the
index, made crash-safe by a journal (see :mod:`mlstore.index.sync`). Queries read the
index and the in-memory lineage cache, never MLMD's deprecated filter queries.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import insert, select

from mlstore import errors, schema
from mlstore._mlmd import Metadata
from mlstore._records import (LoggedExecution, OutputArtifact, check_write, context_messages, event_pairs,
                              execution_message, output_pair)
from mlstore._uri import StoreLocation, parse_store_uri
from mlstore.blobs import BlobStore, artifact_local_path, verify_artifacts
from mlstore.index import queries
from mlstore.index import tables as t
from mlstore.index.graph_cache import GraphCache
from mlstore.index.sync import IndexSync, index_engine, prepare_schema
from mlstore.lineage import Direction, LineageGraph, lineage_from_cache
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId

__all__ = ["LoggedExecution", "OutputArtifact", "Store", "open"]


def open(uri: str | None = None) -> "Store":  # noqa: A001 - mirrors builtins.open on purpose
    """Opens (creating if needed) the store at ``uri``.

    Args:
        uri: a directory, ``mysql://``, ``postgresql://`` or ``grpc://`` URI; default
            ``$MLSTORE_URI`` or ``./.mlstore``.

    Raises:
        InvalidArgument: malformed URI.
        Unavailable: the database or server cannot be reached.
        FailedPrecondition: the index needs ``mlstore db upgrade``.
    """
    location = parse_store_uri(uri)
    if location.server is not None:
        from mlstore.client import RemoteStore  # noqa: PLC0415 - optional transport

        return RemoteStore(location)  # type: ignore[return-value]
    return Store(location)


def _existing_spans(connection, ids: list[int]) -> list[int]:
    """Spans of the given artifacts; raises NotFound (rolling back) for one that does not exist."""
    if not ids:
        return []
    spans = queries.spans_by_id(connection, ids)
    missing = [i for i in ids if i not in spans]
    if missing:
        raise errors.NotFound(f"input artifact:{missing[0]} does not exist")
    return [span for span in spans.values() if span is not None]


class Store:
    """An mlstore store: MLMD (system of record) + blobs + the index."""

    def __init__(self, location: StoreLocation):
        self.location = location
        if location.directory is not None:
            location.directory.mkdir(parents=True, exist_ok=True)
        self.metadata = Metadata(location)
        self.blobs = BlobStore(location.artifact_root)
        self.engine = index_engine(location)
        prepare_schema(self.engine, location.uri)
        self.graph_cache = GraphCache(self.engine)
        self._sync = IndexSync(self.metadata, self.engine)
        self.catch_up()

    @property
    def uri(self) -> str:
        return self.location.uri

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- index upkeep --------------------------------------------------------------------

    def catch_up(self) -> int:
        """Indexes executions that reached MLMD but not the index (after a crash).

        Returns the number of executions indexed.
        """
        indexed, rebuilt = self._sync.catch_up()
        if rebuilt:
            self.graph_cache = GraphCache(self.engine)
        return indexed

    def reindex(self) -> int:
        """Rebuilds the whole index from MLMD. Returns the number of executions indexed."""
        self.graph_cache = GraphCache(self.engine)  # event ids restart after the rebuild
        return self._sync.rebuild()

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
        check_write(step, pipeline, outputs, state)
        for output in outputs:
            if not self.blobs.exists(output.digest):
                raise errors.NotFound(f"blob {output.digest} is not in the store; publish it first")
        execution = execution_message(self.metadata, step, pipeline, properties or {}, state, run_id)
        contexts = context_messages(self.metadata, pipeline, run_id)
        with self.engine.begin() as connection:  # one round trip: check the inputs, journal the write
            input_spans = _existing_spans(connection, [i for i, _ in inputs])
            _existing_spans(connection, [i for i, _ in reused_outputs])
            connection.execute(insert(t.journal), {"external_id": execution.external_id,
                                                   "created_ms": int(time.time() * 1000)})
        pairs = (event_pairs(inputs, pb.Event.INPUT)
                 + [output_pair(self.metadata, o, pipeline, input_spans, state) for o in outputs]
                 + event_pairs(reused_outputs, pb.Event.OUTPUT))
        self.metadata.encode_strings(execution, *[artifact for artifact, _ in pairs if artifact is not None])
        try:
            execution_id, artifact_ids, _ = self.metadata.call(
                self.metadata.raw.put_execution, execution, pairs, contexts, reuse_context_if_already_exist=True
            )
        except BaseException:
            self._sync.forget(execution.external_id)
            raise
        stored = self.metadata.call(self.metadata.raw.get_executions_by_id, [execution_id])
        new_ids = tuple(artifact_ids[len(inputs):len(inputs) + len(outputs)])
        self._sync.index(stored, journal_ids=[execution.external_id], new_artifact_ids=new_ids)
        return LoggedExecution(execution_id, new_ids)

    # -- query path ----------------------------------------------------------------------

    def resolve(self, ref: str | int | NodeId | Artifact | Execution) -> NodeId:
        """Resolves ``artifact:<n>``, ``execution:<n>`` or a unique ``sha256:`` prefix to a node.

        A digest shared by several artifacts (identical content logged twice) resolves
        to the newest of them.

        Raises:
            InvalidArgument / AmbiguousReference: malformed or ambiguous reference.
            NotFound: nothing matches.
        """
        if isinstance(ref, (Artifact, Execution)):
            return ref.node_id
        if isinstance(ref, NodeId):
            node = ref
        elif isinstance(ref, int):
            node = NodeId("artifact", ref)
        elif ref.startswith("sha256:"):
            return NodeId("artifact", self._resolve_digest(ref))
        else:
            node = NodeId.parse(ref)
        with self.engine.connect() as connection:
            table = t.artifact if node.kind == "artifact" else t.execution
            if connection.scalar(select(table.c.id).where(table.c.id == node.id)) is None:
                raise errors.NotFound(f"{node} does not exist in {self.uri}")
        return node

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
        node = self.resolve(ref)
        if node.kind != "artifact":
            raise errors.InvalidArgument(f"{node} is an execution, not an artifact")
        with self.engine.connect() as connection:
            return queries.artifacts_by_id(connection, [node.id])[node.id]

    def execution(self, ref) -> Execution:
        """The execution ``ref`` refers to."""
        node = self.resolve(NodeId("execution", ref) if isinstance(ref, int) else ref)
        if node.kind != "execution":
            raise errors.InvalidArgument(f"{node} is an artifact, not an execution")
        with self.engine.connect() as connection:
            return queries.executions_by_id(connection, [node.id])[node.id]

    def artifacts(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                  after_id: int = 0, limit: int | None = None, order: str = "asc",
                  before_id: int | None = None, since_ms: int | None = None) -> list[Artifact]:
        """Artifacts in id order, optionally filtered; page with ``after_id``.

        ``order="desc"`` lists newest first (page back with ``before_id``, the last id
        seen); ``since_ms`` keeps those created at or after that epoch millisecond.
        """
        if type is not None:
            schema.artifact_type(type)
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
        node = self.resolve(ref)
        with self.engine.connect() as connection:
            if node.kind == "execution":
                return queries.events_of_execution(connection, node.id)
            return queries.events_of_artifact(connection, node.id)

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
            if type_name not in schema.ARTIFACT_TYPES and not self._is_execution_type(type_name):
                raise errors.InvalidArgument(f"unknown type {type_name!r} in type filter")
        nodes = [self.resolve(r) for r in refs]
        return lineage_from_cache(self.graph_cache, nodes, direction, depth, types)

    def _is_execution_type(self, name: str) -> bool:
        with self.engine.connect() as connection:
            return connection.scalar(select(t.execution.c.id).where(t.execution.c.type == name).limit(1)) is not None

    def metric_series(self, pipeline: str, metric: str, slice: str = "Overall") -> list[MetricPoint]:
        """Every model's value of ``metric`` on ``slice`` in ``pipeline``, ordered by span."""
        with self.engine.connect() as connection:
            return queries.metric_series(connection, pipeline, metric, slice)

    def evaluation_metrics(self, ref) -> dict[str, dict[str, float]]:
        """``{slice: {metric: value}}`` of a ModelEvaluation artifact."""
        evaluation = self.artifact(ref)
        with self.engine.connect() as connection:
            return queries.metrics_of_evaluation(connection, evaluation.id)

    def latest_blessed(self, pipeline: str) -> Artifact | None:
        """The blessed model with the newest span in ``pipeline`` (None when none is blessed)."""
        with self.engine.connect() as connection:
            model_id = queries.latest_blessed_model_id(connection, pipeline)
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

    # -- bytes ---------------------------------------------------------------------------

    def verify(self, refs: Sequence[Any] = ()) -> dict[NodeId, list[str]]:
        """Re-hashes artifacts' blobs (all non-DELETED artifacts when ``refs`` is empty).

        Returns ``{node id: [problem, ...]}`` for every corrupted artifact (empty when all
        verify).
        """
        targets = [self.artifact(r) for r in refs] if refs else [
            a for a in self.artifacts() if a.state != "DELETED"]
        return verify_artifacts(self.blobs, targets)

    def local_path(self, ref) -> str:
        """A local path holding the artifact's bytes (downloaded and verified when remote)."""
        return artifact_local_path(self.blobs, self.artifact(ref))

    # -- catalogue queries for browsing (the dashboard) ----------------------------------

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


def _check_order(order: str) -> None:
    if order not in ("asc", "desc"):
        raise errors.InvalidArgument(f"order must be 'asc' or 'desc', not {order!r}")
