"""The Store facade: one object for the write path and the query path.

>>> import mlstore
>>> store = mlstore.open("./.mlstore")          # embedded: MLMD on SQLite + local blobs
>>> graph = store.lineage("artifact:12", direction="up")

Writes go MLMD first (the system of record, one transaction per execution), then the
index. A journal row written before the MLMD transaction makes the pair crash-safe:
whoever opens the store next finds the journal row, looks the execution up in MLMD by
its external id and indexes it (or drops the row when the MLMD write never happened).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import create_engine, delete, event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from mlstore import errors, schema
from mlstore._mlmd import Metadata, set_property
from mlstore._uri import StoreLocation, parse_store_uri
from mlstore.blobs import BlobStore
from mlstore.index import migrate, queries
from mlstore.index import tables as t
from mlstore.index.writer import IndexBatch, write_batch_safely
from mlstore.index.graph_cache import GraphCache
from mlstore.lineage import Direction, LineageGraph, lineage_from_cache
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId

_EXECUTION_STATES = {"COMPLETE", "FAILED", "CACHED", "RUNNING", "CANCELED"}
_MLMD_PAGE = 500


@dataclass(frozen=True)
class OutputArtifact:
    """An artifact an execution produced; its bytes are already published as ``digest``."""

    type: str
    uri: str
    digest: str
    size: int
    role: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class LoggedExecution:
    execution_id: int
    output_ids: tuple[int, ...]


def open(uri: str | None = None) -> "Store":  # noqa: A001 - mirrors builtins.open on purpose
    """Opens (creating if needed) the store at ``uri``.

    Args:
        uri: a directory, ``mysql://``, ``postgresql://`` or ``grpc://`` URI; default
            ``$MLSTORE_URI`` or ``./.mlstore``.

    Raises:
        InvalidArgument: malformed URI.
        Unavailable: the database or server cannot be reached.
    """
    location = parse_store_uri(uri)
    if location.server is not None:
        from mlstore.client import RemoteStore  # noqa: PLC0415 - optional transport

        return RemoteStore(location)  # type: ignore[return-value]
    return Store(location)


def _index_engine(location: StoreLocation) -> Engine:
    if location.directory is not None:
        engine = create_engine(f"sqlite:///{location.directory / 'index.sqlite'}")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # The index is derived data (rebuildable with `mlstore reindex`), so it skips
            # fsync: a killed process loses nothing, only an OS crash could need a reindex.
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    db = location.database
    driver = "mysql+pymysql" if db.dialect == "mysql" else "postgresql+psycopg2"
    from sqlalchemy.engine import URL  # noqa: PLC0415

    url = URL.create(driver, db.user or None, db.password or None, db.host, db.port, db.database)
    return create_engine(url, pool_pre_ping=True)


class Store:
    """An mlstore store: MLMD (system of record) + blobs + the index."""

    def __init__(self, location: StoreLocation):
        self.location = location
        if location.directory is not None:
            location.directory.mkdir(parents=True, exist_ok=True)
        self.metadata = Metadata(location)
        self.blobs = BlobStore(location.artifact_root)
        self.engine = _index_engine(location)
        self._type_name_cache: dict[int, str] | None = None
        self.graph_cache = GraphCache(self.engine)
        self._prepare_index()

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

    def _prepare_index(self) -> None:
        try:
            current = migrate.current_revision(self.engine)
        except OperationalError as e:
            raise errors.Unavailable(f"cannot open the index database: {e.orig}") from None
        head = migrate.head_revision()
        if current is None:
            migrate.upgrade(self.engine)
        elif current != head:
            raise errors.FailedPrecondition(
                f"the index schema is at revision {current}, this mlstore needs {head}: "
                f"run `mlstore db upgrade --store {self.uri}`"
            )
        self.catch_up()

    def catch_up(self) -> int:
        """Indexes executions that reached MLMD but not the index (after a crash).

        Returns the number of executions indexed.
        """
        with self.engine.connect() as connection:
            pending = connection.scalars(select(t.journal.c.external_id)).all()
            empty_index = connection.scalar(select(t.execution.c.id).limit(1)) is None
        indexed = 0
        if pending:
            found = self.metadata.call(self.metadata.raw.get_executions_by_external_ids, list(pending))
            indexed = self._index_executions(found, journal_ids=pending)
        if empty_index and self._mlmd_has_executions():
            indexed += self.reindex()
        return indexed

    def _mlmd_has_executions(self) -> bool:
        options = metadata_store.ListOptions(limit=1)
        return bool(self.metadata.call(self.metadata.raw.get_executions, list_options=options))

    def reindex(self) -> int:
        """Rebuilds the whole index from MLMD. Returns the number of executions indexed."""
        with self.engine.begin() as connection:
            for table in (t.blessing, t.metric, t.event, t.execution, t.artifact):
                connection.execute(delete(table))
        self.graph_cache = GraphCache(self.engine)  # event ids restart after the rebuild
        executions = sorted(self.metadata.call(self.metadata.raw.get_executions), key=lambda e: e.id)
        total = 0
        for i in range(0, len(executions), _MLMD_PAGE):
            total += self._index_executions(executions[i:i + _MLMD_PAGE])
        return total

    def _index_executions(self, executions: Sequence[pb.Execution], journal_ids: Sequence[str] = ()) -> int:
        mlmd = self.metadata
        events = mlmd.call(mlmd.raw.get_events_by_execution_ids, [e.id for e in executions]) if executions else []
        artifact_ids = sorted({ev.artifact_id for ev in events})
        artifacts = mlmd.call(mlmd.raw.get_artifacts_by_id, artifact_ids) if artifact_ids else []
        needed = [e.type_id for e in executions] + [a.type_id for a in artifacts]
        batch = IndexBatch(list(executions), list(events), {a.id: a for a in artifacts}, self._type_names(needed))
        return write_batch_safely(self.engine, batch, journal_ids)

    def _type_names(self, needed: Iterable[int] = ()) -> dict[int, str]:
        """MLMD type id -> name, cached; refreshed when a needed id is unknown."""
        if self._type_name_cache is None or any(i not in self._type_name_cache for i in needed):
            mlmd = self.metadata
            names = {t_.id: t_.name for t_ in mlmd.call(mlmd.raw.get_artifact_types)}
            names.update({t_.id: t_.name for t_ in mlmd.call(mlmd.raw.get_execution_types)})
            self._type_name_cache = names
        return self._type_name_cache

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
        properties = dict(properties or {})
        input_spans = self._validate_write(step, pipeline, inputs, outputs, state)
        self._input_spans([i for i, _ in reused_outputs])  # they must exist
        execution = self._execution_proto(step, pipeline, properties, state, run_id)
        pairs = self._event_pairs(inputs, pb.Event.INPUT) + [
            self._output_pair(o, pipeline, input_spans, state) for o in outputs
        ] + self._event_pairs(reused_outputs, pb.Event.OUTPUT)
        contexts = self._contexts(pipeline, run_id)
        self.metadata.encode_strings(execution, *[artifact for artifact, _ in pairs if artifact is not None])
        with self.engine.begin() as connection:
            connection.execute(insert(t.journal), {"external_id": execution.external_id,
                                                   "created_ms": int(time.time() * 1000)})
        try:
            execution_id, artifact_ids, _ = self.metadata.call(
                self.metadata.raw.put_execution, execution, pairs, contexts, reuse_context_if_already_exist=True
            )
        except BaseException:
            self._forget_journal(execution.external_id)
            raise
        stored = self.metadata.call(self.metadata.raw.get_executions_by_id, [execution_id])
        self._index_executions(stored, journal_ids=[execution.external_id])
        return LoggedExecution(execution_id, tuple(artifact_ids[len(inputs):len(inputs) + len(outputs)]))

    def _forget_journal(self, external_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(t.journal).where(t.journal.c.external_id == external_id))

    def _validate_write(self, step, pipeline, inputs, outputs, state) -> None:
        if not step or not step.replace("_", "").replace("-", "").isalnum():
            raise errors.InvalidArgument(f"step name {step!r} must be letters, digits, '_' or '-'")
        if not pipeline or len(pipeline) > 255:
            raise errors.InvalidArgument("pipeline name must be 1-255 characters")
        if state not in _EXECUTION_STATES:
            raise errors.InvalidArgument(f"state must be one of {sorted(_EXECUTION_STATES)}, not {state!r}")
        for output in outputs:
            schema.check_artifact_properties(output.type, output.properties)
            if not output.role:
                raise errors.InvalidArgument(f"output artifact of type {output.type} needs a role")
            if not self.blobs.exists(output.digest):
                raise errors.NotFound(f"blob {output.digest} is not in the store; publish it first")
        return self._input_spans([i for i, _ in inputs])

    def _input_spans(self, ids: list[int]) -> list[int]:
        """Spans of the input artifacts; raises NotFound for an input that does not exist."""
        if not ids:
            return []
        with self.engine.connect() as connection:
            spans = queries.spans_by_id(connection, ids)
        missing = [i for i in ids if i not in spans]
        if missing:
            raise errors.NotFound(f"input artifact:{missing[0]} does not exist")
        return [span for span in spans.values() if span is not None]

    def _execution_proto(self, step, pipeline, properties, state, run_id) -> pb.Execution:
        execution = pb.Execution(
            type_id=self.metadata.execution_type_id(step),
            last_known_state=pb.Execution.State.Value(state),
            external_id=f"mlstore:{uuid.uuid4().hex}",
        )
        properties = {"pipeline": pipeline, "run_id": run_id or "", **properties}
        for key, value in properties.items():
            if value is None:
                continue
            if key in schema.COMMON_EXECUTION_PROPERTIES:
                kind = schema.COMMON_EXECUTION_PROPERTIES[key]
                if kind == schema.STRING and not isinstance(value, str):
                    value = json.dumps(value, sort_keys=True)
                schema.check_value(f"{step}.{key}", kind, value)
                set_property(execution.properties, key, value)
            else:
                if isinstance(value, (dict, list)):
                    value = json.dumps(value, sort_keys=True)
                set_property(execution.custom_properties, key, value)
        return execution

    @staticmethod
    def _event_pairs(refs: Sequence[tuple[int, str]], event_type: int) -> list:
        """Events on existing artifacts (no artifact message: MLMD must not rewrite them)."""
        pairs = []
        for artifact_id, role in refs:
            ev = pb.Event(type=event_type, artifact_id=artifact_id)
            ev.path.steps.add().key = role
            pairs.append((None, ev))
        return pairs

    def _output_pair(self, output: OutputArtifact, pipeline, input_spans, state):
        artifact = pb.Artifact(
            type_id=self.metadata.artifact_type_id(output.type),
            uri=output.uri,
            state=pb.Artifact.LIVE if state in ("COMPLETE", "CACHED") else pb.Artifact.ABANDONED,
        )
        if output.name:
            # MLMD keeps artifact names unique per type: a name doubles as a lock (hub versions).
            artifact.name = output.name
        props = {"digest": output.digest, "size": float(output.size), "pipeline": pipeline, **output.properties}
        if "span" not in props and input_spans:
            props["span"] = max(input_spans)  # an output derives from its newest input data
        for key, value in props.items():
            set_property(artifact.properties, key, value)
        ev = pb.Event(type=pb.Event.OUTPUT)
        ev.path.steps.add().key = output.role
        return (artifact, ev)

    def _contexts(self, pipeline: str, run_id: str | None) -> list[pb.Context]:
        contexts = [pb.Context(type_id=self.metadata.context_type_id(schema.PIPELINE_CONTEXT), name=pipeline)]
        if run_id:
            contexts.append(pb.Context(
                type_id=self.metadata.context_type_id(schema.RUN_CONTEXT), name=f"{pipeline}/{run_id}"))
        return contexts

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
        """Re-hashes artifacts' blobs (all LIVE artifacts when ``refs`` is empty).

        Returns ``{node id: [problem, ...]}`` for every corrupted artifact (empty when
        all verify). Deleted artifacts are not checked.
        """
        if refs:
            targets = [self.artifact(r) for r in refs]
        else:
            targets = [a for a in self.artifacts() if a.state != "DELETED"]
        checked: dict[str, list[str]] = {}
        corrupted: dict[NodeId, list[str]] = {}
        for art in targets:
            if not art.digest:
                continue
            if art.digest not in checked:
                checked[art.digest] = [f"{p.path}: {p.problem}".lstrip(": ") for p in self.blobs.verify(art.digest)]
            if checked[art.digest]:
                corrupted[art.node_id] = checked[art.digest]
        return corrupted

    def local_path(self, ref) -> str:
        """A local path holding the artifact's bytes (downloaded and verified when remote)."""
        art = self.artifact(ref)
        if not art.digest:
            raise errors.FailedPrecondition(f"{art.node_id} has no stored bytes")
        base = self.blobs.local_path(art.digest)
        object_uri = self.blobs.object_uri(art.digest)
        suffix = art.uri[len(object_uri):] if art.uri.startswith(object_uri) else ""
        return str(base) + suffix

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
