"""Turns MLMD records into index rows, idempotently.

The same code indexes a fresh write, catches up after a crash (from the journal) and
rebuilds the whole index (``reindex``), so the three can never disagree.
"""

from __future__ import annotations

import json
import random
import zlib
import time
from dataclasses import dataclass, field
from typing import Iterable

from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from mlstore import errors
from mlstore._mlmd import get_property
from mlstore.index import metric_tiers
from mlstore.index import tables as t
from mlstore.index.queries import execute_many
from mlstore.tfx import records as tfx

ARTIFACT_STATES = {v: k for k, v in pb.Artifact.State.items()}
EXECUTION_STATES = {v: k for k, v in pb.Execution.State.items()}


@dataclass
class IndexBatch:
    """Everything MLMD holds about some executions, fetched in a few calls."""

    executions: list[pb.Execution]
    events: list[pb.Event]
    artifacts: dict[int, pb.Artifact]
    type_names: dict[int, str]  # MLMD type id -> name (artifact and execution types)
    #: Set for a write just made by this process: these are the only new artifacts and
    #: the executions are new, so the "already indexed?" look-ups are skipped.
    new_artifact_ids: frozenset[int] | None = None
    #: Execution id -> ``{context type: name}`` from MLMD's ``pipeline``, ``pipeline_run``
    #: and ``node`` contexts (TFX keeps them only there, mlstore also in properties).
    contexts: dict[int, dict[str, str]] = field(default_factory=dict)
    #: ModelEvaluation id -> ``{slice: {metric: value}}`` read from its files (TFMA's),
    #: for evaluations without a ``metrics`` property.
    evaluations: dict[int, dict] = field(default_factory=dict)
    #: Spans of already indexed artifacts this batch reads.
    known_spans: dict[int, int | None] = field(default_factory=dict)
    #: The artifact rows :func:`write_batch` inserted (set once they are committed).
    artifact_rows: list[dict] | None = None

    def derived(self) -> "Derived":
        """Spans and pipelines of the batch's artifacts, derived once (see :class:`Derived`)."""
        if self._derived is None:
            self._derived = Derived.of(self)
        return self._derived

    _derived: "Derived | None" = None
    pending_rows: list[dict] | None = None  # artifact rows of the transaction in progress
    #: Artifact id -> its properties as a dict, converted once per batch (see :meth:`properties`).
    _properties: dict[int, dict[str, object]] = field(default_factory=dict)

    def properties(self, artifact: pb.Artifact) -> dict[str, object]:
        """:func:`properties_of` an artifact of the batch, converted once (read by every row builder)."""
        props = self._properties.get(artifact.id)
        if props is None:
            props = self._properties[artifact.id] = properties_of(artifact)
        return props


@dataclass
class Derived:
    """What TFX leaves implicit, worked out from the events.

    An artifact without a ``span`` of its own (TFX's Model, Transform outputs) takes the
    newest span among the inputs of the execution that produced it, as mlstore's own
    writes do; an artifact's pipeline is its producer's (TFX records it only as a context).
    """

    spans: dict[int, int | None]
    pipelines: dict[int, str | None]

    @classmethod
    def of(cls, batch: IndexBatch) -> "Derived":
        spans: dict[int, int | None] = dict(batch.known_spans)
        pipelines: dict[int, str | None] = {}
        events_by_execution: dict[int, list[pb.Event]] = {}
        for ev in batch.events:
            events_by_execution.setdefault(ev.execution_id, []).append(ev)

        def own_span(artifact_id: int) -> int | None:
            art = batch.artifacts.get(artifact_id)
            span = batch.properties(art).get("span") if art is not None else None
            return span if span is not None else spans.get(artifact_id)

        for execution in sorted(batch.executions, key=lambda e: e.id):
            events = events_by_execution.get(execution.id, [])
            input_spans = [s for s in (own_span(e.artifact_id) for e in events if e.type in tfx.READ) if s is not None]
            pipeline = execution_pipeline(execution, batch)
            for ev in events:
                if ev.type in tfx.PRODUCED:
                    span = own_span(ev.artifact_id)
                    spans[ev.artifact_id] = span if span is not None else (max(input_spans) if input_spans else None)
                    pipelines.setdefault(ev.artifact_id, pipeline)
            for ev in events:
                pipelines.setdefault(ev.artifact_id, pipeline)
        return cls(spans, pipelines)


def execution_pipeline(execution: pb.Execution, batch: IndexBatch) -> str | None:
    prop = execution.properties.get("pipeline") if "pipeline" in execution.properties else None
    return (prop.string_value if prop is not None else None) or batch.contexts.get(execution.id, {}).get(
        tfx.PIPELINE_CONTEXT)


def properties_of(message) -> dict[str, object]:
    """Properties and custom properties of an MLMD node as a plain dict."""
    values = {k: get_property(v) for k, v in message.custom_properties.items()}
    values.update({k: get_property(v) for k, v in message.properties.items()})
    return values


def role_of(event: pb.Event) -> str:
    for step in event.path.steps:
        if step.HasField("key"):
            return step.key
    return ""


#: String properties this long (or longer) are stored compressed (:func:`split_properties`).
PACK_FROM = 1024


def split_properties(type_name: str, props: dict) -> tuple[str, bytes | None]:
    """An artifact's properties as its index columns ``(properties, packed)``.

    ``properties`` is JSON; ``packed`` (None when there is nothing to pack) is the
    zlib-compressed JSON of the string properties of at least :data:`PACK_FROM`
    characters, such as an evaluation's ``metrics`` (about 3.5 kB a day, kept in MLMD
    and as metric rows too, never read in SQL). A Model's stay plain: the compatibility
    check reads them in SQL (``model_queries``).
    """
    long = {} if type_name == "Model" else {
        key: value for key, value in props.items() if isinstance(value, str) and len(value) >= PACK_FROM}
    if not long:
        return json.dumps(props, sort_keys=True), None
    rest = {key: value for key, value in props.items() if key not in long}
    return json.dumps(rest, sort_keys=True), zlib.compress(json.dumps(long, sort_keys=True).encode(), 6)


def artifact_row(artifact: pb.Artifact, type_name: str, derived: "Derived | None" = None,
                 props: dict[str, object] | None = None) -> dict:
    """The index row of an artifact; ``props``: its :func:`properties_of` when the caller has them."""
    props = properties_of(artifact) if props is None else props
    span, pipeline = props.get("span"), props.get("pipeline")
    if derived is not None:
        span = span if span is not None else derived.spans.get(artifact.id)
        pipeline = pipeline or derived.pipelines.get(artifact.id)
    return {
        "id": artifact.id,
        "node": t.node_key(t.ARTIFACT_KIND, artifact.id),
        "type": type_name,
        "name": artifact.name or None,
        "uri": artifact.uri,
        "digest": props.get("digest"),
        "size": None if props.get("size") is None else int(props["size"]),
        "state": ARTIFACT_STATES.get(artifact.state, "UNKNOWN"),
        "pipeline": pipeline,
        "span": span if isinstance(span, int) else None,
        "create_time_ms": artifact.create_time_since_epoch,
        **dict(zip(("properties", "packed"), split_properties(type_name, props))),
    }


def execution_row(execution: pb.Execution, type_name: str, pipeline: str | None = None,
                  contexts: dict[str, str] | None = None) -> dict:
    """The index row of an execution; a TFX class-path type is indexed by its step kind,
    the MLMD type name kept as property ``mlmd_type``, TFX's ``pipeline_run`` and ``node``
    contexts as properties ``run_id`` and ``node_id`` (as mlstore's own writes have them)."""
    props = properties_of(execution)
    kind = tfx.step_kind(type_name)
    if kind != type_name:
        props["mlmd_type"] = type_name
    contexts = contexts or {}
    if tfx.RUN_CONTEXT in contexts:
        props.setdefault("run_id", contexts[tfx.RUN_CONTEXT])
    if tfx.NODE_CONTEXT in contexts:  # TFX names it "<pipeline>.<node id>"
        node = contexts[tfx.NODE_CONTEXT]
        prefix = f"{pipeline}." if pipeline else ""
        props.setdefault("node_id", node[len(prefix):] if prefix and node.startswith(prefix) else node)
    return {
        "id": execution.id,
        "node": t.node_key(t.EXECUTION_KIND, execution.id),
        "type": kind,
        "pipeline": props.get("pipeline") or pipeline,
        "state": EXECUTION_STATES.get(execution.last_known_state, "UNKNOWN"),
        "create_time_ms": execution.create_time_since_epoch,
        "cache_key": props.get("cache_key") or None,
        "properties": json.dumps(props, sort_keys=True),
    }


def event_row(event: pb.Event) -> dict:
    """An input or output edge; a Resolver's INTERNAL_* events are inputs (see mlstore.tfx.records)."""
    is_output = event.type in tfx.PRODUCED
    a = t.node_key(t.ARTIFACT_KIND, event.artifact_id)
    e = t.node_key(t.EXECUTION_KIND, event.execution_id)
    return {
        "execution_id": event.execution_id,
        "artifact_id": event.artifact_id,
        "is_output": is_output,
        "role": role_of(event),
        "src": e if is_output else a,
        "dst": a if is_output else e,
    }


def _derived_rows(batch: IndexBatch) -> tuple[list[dict], list[dict]]:
    """Metric rows (from ModelEvaluation outputs) and blessing rows (ModelBlessing outputs)."""
    metric_rows, blessing_rows = [], []
    by_execution: dict[int, list[pb.Event]] = {}
    for ev in batch.events:
        by_execution.setdefault(ev.execution_id, []).append(ev)
    for execution_id, events in by_execution.items():
        inputs = {role_of(e): e.artifact_id for e in events if e.type in tfx.READ}
        produced = [e for e in events if e.type in tfx.PRODUCED]
        for ev in produced:
            if batch.new_artifact_ids is not None and ev.artifact_id not in batch.new_artifact_ids:
                continue  # an output reused by a cache hit: its rows exist since it was first indexed
            art = batch.artifacts.get(ev.artifact_id)
            if art is None:
                continue
            type_name = batch.type_names.get(art.type_id)
            props = batch.properties(art)
            # A baseline's evaluation on the candidate's data is for the gate only: the
            # metric series holds each model's own (primary) evaluation.
            metrics = json.loads(props["metrics"]) if props.get("metrics") else batch.evaluations.get(art.id)
            if type_name == "ModelEvaluation" and metrics and role_of(ev) != "baseline_evaluation":
                metric_rows += _metric_rows(art, metrics, inputs.get("model"), batch)
            elif type_name == "ModelBlessing":
                # The blessed model: the property, else the gate's "model" input (as in TFX).
                model_id = props.get("current_model_id") or inputs.get("model")
                # TFX's Evaluator outputs the evaluation beside the blessing.
                evaluation_id = inputs.get("evaluation") or next(
                    (e.artifact_id for e in produced if e.artifact_id in batch.artifacts
                     and batch.type_names.get(batch.artifacts[e.artifact_id].type_id) == "ModelEvaluation"), None)
                if model_id:
                    blessing_rows.append(_blessing_row(art, props, int(model_id), evaluation_id, batch))
    return metric_rows, blessing_rows


def _span_of(artifact_id: int | None, batch: IndexBatch) -> int | None:
    return batch.derived().spans.get(artifact_id) if artifact_id else None


#: The order of the values in a metric row as inserted (see :func:`_metric_rows`).
METRIC_COLUMNS = ("evaluation_id", "series_id", "model_id", "span", "value")


def _metric_rows(art: pb.Artifact, slices: dict, model_id: int | None, batch: IndexBatch) -> list[tuple]:
    """The metric rows of an evaluation, as tuples of :data:`METRIC_COLUMNS` with the
    series' names in place of its id (200 a day: no dicts); see :func:`_with_series_ids`."""
    span = _span_of(model_id, batch)
    span = span if span is not None else _span_of(art.id, batch)
    pipeline = batch.properties(art).get("pipeline") or batch.derived().pipelines.get(art.id)
    return [
        (art.id, metric_tiers.series_key(pipeline, name, slice_key), model_id, span,
         None if value is None else float(value))
        for slice_key, metrics in sorted(slices.items())
        for name, value in sorted(metrics.items())
        if value is None or isinstance(value, (int, float))
    ]


class _NewSeries(Exception):
    """Metric rows name series the dictionary does not have yet: :func:`write_batch_safely`
    adds them (:func:`metric_tiers.ensure_series`) and writes the batch again."""

    def __init__(self, keys: set):
        super().__init__(f"{len(keys)} new metric series")
        self.keys = keys


def _with_series_ids(connection: Connection, rows: list[tuple]) -> list[tuple]:
    keys = {row[1] for row in rows}
    ids = metric_tiers.series_ids(connection, keys)
    if len(ids) < len(keys):
        raise _NewSeries(keys - ids.keys())
    return [(e, ids[key], model_id, span, value) for e, key, model_id, span, value in rows]


def _blessing_row(art: pb.Artifact, props: dict, model_id: int, evaluation_input: int | None,
                  batch: IndexBatch) -> dict:
    span = _span_of(model_id, batch)
    return {
        "id": art.id,
        "model_id": model_id,
        "baseline_id": props.get("baseline_model_id") or None,
        "evaluation_id": props.get("evaluation_id") or evaluation_input,
        "pipeline": props.get("pipeline") or batch.derived().pipelines.get(art.id),
        "blessed": bool(props.get("blessed")),
        "span": span if span is not None else _span_of(art.id, batch),
        "create_time_ms": art.create_time_since_epoch,
    }


def write_batch(connection: Connection, batch: IndexBatch) -> tuple[int, int]:
    """Inserts the rows of ``batch`` that the index does not have yet.

    Idempotent: executions already indexed are skipped, so a catch-up racing a normal
    write does no harm. Metric rows go to the recent tier (see
    :mod:`mlstore.index.metric_tiers`). Returns ``(executions, metric rows)`` newly indexed.
    """
    if batch.new_artifact_ids is None:
        batch = _without_indexed(connection, batch)
    new_execs = batch.executions
    if not new_execs:
        return 0, 0
    events = [ev for ev in batch.events if ev.type not in tfx.PENDING]
    derived = batch.derived()
    artifact_rows = [
        artifact_row(batch.artifacts[i], batch.type_names.get(batch.artifacts[i].type_id, "?"), derived,
                     batch.properties(batch.artifacts[i]))
        for i in sorted(batch.new_artifact_ids) if i in batch.artifacts
    ]
    metric_rows, blessing_rows = _derived_rows(batch)
    if metric_rows:
        metric_rows = _with_series_ids(connection, metric_rows)
    batch.pending_rows = artifact_rows
    for table, rows in (
        (t.execution, [execution_row(e, batch.type_names.get(e.type_id, "?"), execution_pipeline(e, batch),
                                     batch.contexts.get(e.id)) for e in new_execs]),
        (t.artifact, artifact_rows),
        (t.event, [event_row(ev) for ev in events]),
        (t.blessing, blessing_rows),
    ):
        if rows:
            execute_many(connection, _INSERTS[table.name], tuple(rows[0]), [tuple(row.values()) for row in rows])
    if metric_rows:
        execute_many(connection, _INSERTS[t.metric_recent.name], METRIC_COLUMNS, metric_rows)
    return len(new_execs), len(metric_rows)


_INSERTS = {table.name: insert(table) for table in (t.execution, t.artifact, t.event, t.metric_recent, t.blessing)}


def _without_indexed(connection: Connection, batch: IndexBatch) -> IndexBatch:
    """The part of ``batch`` the index does not have yet (catch-up and rebuild)."""
    exec_ids = [e.id for e in batch.executions]
    present = set(connection.scalars(select(t.execution.c.id).where(t.execution.c.id.in_(exec_ids))).all()
                  ) if exec_ids else set()
    executions = [e for e in batch.executions if e.id not in present]
    new_ids = {e.id for e in executions}
    events = [ev for ev in batch.events if ev.execution_id in new_ids]
    artifact_ids = sorted({ev.artifact_id for ev in events})
    known = set(connection.scalars(select(t.artifact.c.id).where(t.artifact.c.id.in_(artifact_ids))).all()
                ) if artifact_ids else set()
    return IndexBatch(executions, events, batch.artifacts, batch.type_names,
                      frozenset(i for i in artifact_ids if i not in known), batch.contexts, batch.evaluations,
                      batch.known_spans, _properties=batch._properties)


#: Index transactions a deadlock or lock timeout rolled back are retried this often.
DEADLOCK_ATTEMPTS = 8


def is_deadlock(error: DBAPIError) -> bool:
    """True for a transaction the database rolled back to break a deadlock or lock wait
    (MySQL/MariaDB 1213, 1205; PostgreSQL 40P01, 40001): running it again is safe."""
    orig = getattr(error, "orig", None)
    code = getattr(orig, "pgcode", None)
    if code in ("40P01", "40001"):
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in (1213, 1205)


def write_batch_safely(engine, batch: IndexBatch, journal_ids: Iterable[str] = ()) -> tuple[int, int]:
    """Runs :func:`write_batch` in its own transaction and clears journal entries.

    A concurrent indexer that won the race shows up as a unique-key violation: when
    every execution of the batch is then in the index, only the journal entries are
    cleared (and ``(0, 0)`` returned). Any other violation is a bug or a record the
    index cannot hold, and is raised, never reported as success. A transaction rolled
    back to break a deadlock (8 writers on MariaDB hit one in 8,000 runs) is run again,
    with a short jittered backoff.

    Raises:
        IndexInconsistent: the rows could not be written.
        IndexBehind: still deadlocked after the retries; MLMD has the executions and their
            journal rows stay, so whoever opens the store next indexes them.
    """
    journal_ids = list(journal_ids)
    attempt = new_series = 0
    adding: set | None = None  # series to add to the dictionary before the write
    while True:
        try:
            if adding:
                metric_tiers.ensure_series(engine, adding)
                adding = None
            with engine.begin() as connection:
                counts = write_batch(connection, batch)
                _clear_journal(connection, journal_ids)
            batch.artifact_rows = batch.pending_rows
            return counts
        except _NewSeries as new:  # once per new series; then the write again
            new_series += 1
            if new_series > DEADLOCK_ATTEMPTS:
                raise errors.IndexInconsistent(f"{len(new.keys)} metric series vanished from the dictionary "
                                               "while they were being written") from new
            adding = new.keys
        except IntegrityError as e:
            if adding:
                raise errors.IndexInconsistent(
                    f"adding metric series failed: {str(e.orig).splitlines()[0]}") from e
            ids = [ex.id for ex in batch.executions]
            with engine.begin() as connection:
                present = set(connection.scalars(select(t.execution.c.id).where(t.execution.c.id.in_(ids))).all())
                if len(present) < len(set(ids)):
                    raise errors.IndexInconsistent(
                        f"indexing executions {ids[0]}..{ids[-1]} failed: {str(e.orig).splitlines()[0]}") from e
                _clear_journal(connection, journal_ids)
            return 0, 0
        except DBAPIError as e:
            if not is_deadlock(e):
                raise
            if attempt == DEADLOCK_ATTEMPTS - 1:
                raise errors.IndexBehind(f"the index write stayed deadlocked after {DEADLOCK_ATTEMPTS} attempts "
                                         "(ML Metadata has the execution; the next open of the store indexes it)") from e
            time.sleep(random.uniform(0, 0.01 * 2 ** attempt))
            attempt += 1


_DELETE_JOURNAL = delete(t.journal).where(t.journal.c.external_id == bindparam("external_id"))


def _clear_journal(connection: Connection, journal_ids: list[str]) -> None:
    if journal_ids:
        execute_many(connection, _DELETE_JOURNAL, ("external_id",), [(j,) for j in journal_ids])
