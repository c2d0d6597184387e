"""Turns MLMD records into index rows, idempotently.

The same code indexes a fresh write, catches up after a crash (from the journal) and
rebuilds the whole index (``reindex``), so the three can never disagree.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Iterable

from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from mlstore import errors
from mlstore._mlmd import get_property
from mlstore.index import tables as t
from mlstore.index.queries import execute_many

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


def artifact_row(artifact: pb.Artifact, type_name: str) -> dict:
    props = properties_of(artifact)
    return {
        "id": artifact.id,
        "node": t.node_key(t.ARTIFACT_KIND, artifact.id),
        "type": type_name,
        "name": artifact.name or None,
        "uri": artifact.uri,
        "digest": props.get("digest"),
        "size": None if props.get("size") is None else int(props["size"]),
        "state": ARTIFACT_STATES.get(artifact.state, "UNKNOWN"),
        "pipeline": props.get("pipeline"),
        "span": props.get("span"),
        "create_time_ms": artifact.create_time_since_epoch,
        "properties": json.dumps(props, sort_keys=True),
    }


def execution_row(execution: pb.Execution, type_name: str) -> dict:
    props = properties_of(execution)
    return {
        "id": execution.id,
        "node": t.node_key(t.EXECUTION_KIND, execution.id),
        "type": type_name,
        "pipeline": props.get("pipeline"),
        "state": EXECUTION_STATES.get(execution.last_known_state, "UNKNOWN"),
        "create_time_ms": execution.create_time_since_epoch,
        "cache_key": props.get("cache_key") or None,
        "properties": json.dumps(props, sort_keys=True),
    }


_OUTPUT_EVENTS = frozenset({pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT, pb.Event.INTERNAL_OUTPUT})


def event_row(event: pb.Event) -> dict:
    is_output = event.type in _OUTPUT_EVENTS
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
        inputs = {role_of(e): e.artifact_id for e in events if e.type not in _OUTPUT_EVENTS}
        for ev in events:
            if ev.type not in _OUTPUT_EVENTS:
                continue
            art = batch.artifacts.get(ev.artifact_id)
            if art is None:
                continue
            type_name = batch.type_names.get(art.type_id)
            props = properties_of(art)
            # A baseline's evaluation on the candidate's data is for the gate only: the
            # metric series holds each model's own (primary) evaluation.
            if type_name == "ModelEvaluation" and props.get("metrics") and role_of(ev) != "baseline_evaluation":
                metric_rows += _metric_rows(art, props, inputs.get("model"), batch)
            elif type_name == "ModelBlessing":
                # The blessed model: the property, else the gate's "model" input (as in TFX).
                model_id = props.get("current_model_id") or inputs.get("model")
                if model_id:
                    blessing_rows.append(_blessing_row(art, props, int(model_id), inputs.get("evaluation"), batch))
    return metric_rows, blessing_rows


def _span_of(artifact_id: int | None, batch: IndexBatch) -> int | None:
    art = batch.artifacts.get(artifact_id) if artifact_id else None
    return properties_of(art).get("span") if art is not None else None


#: The order of the values in a metric row (see :func:`_metric_rows`).
METRIC_COLUMNS = ("evaluation_id", "slice", "metric", "model_id", "pipeline", "span", "value")


def _metric_rows(art: pb.Artifact, props: dict, model_id: int | None, batch: IndexBatch) -> list[tuple]:
    """The metric rows of an evaluation, as tuples of :data:`METRIC_COLUMNS` (200 a day: no dicts)."""
    span = _span_of(model_id, batch)
    span = span if span is not None else props.get("span")
    pipeline = props.get("pipeline")
    slices = json.loads(props["metrics"])
    return [
        (art.id, slice_key, name, model_id, pipeline, span, None if value is None else float(value))
        for slice_key, metrics in sorted(slices.items())
        for name, value in sorted(metrics.items())
        if value is None or isinstance(value, (int, float))
    ]


def _blessing_row(art: pb.Artifact, props: dict, model_id: int, evaluation_input: int | None,
                  batch: IndexBatch) -> dict:
    span = _span_of(model_id, batch)
    return {
        "id": art.id,
        "model_id": model_id,
        "baseline_id": props.get("baseline_model_id") or None,
        "evaluation_id": props.get("evaluation_id") or evaluation_input,
        "pipeline": props.get("pipeline"),
        "blessed": bool(props.get("blessed")),
        "span": span if span is not None else props.get("span"),
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
    events = batch.events
    artifact_rows = [
        artifact_row(batch.artifacts[i], batch.type_names.get(batch.artifacts[i].type_id, "?"))
        for i in sorted(batch.new_artifact_ids) if i in batch.artifacts
    ]
    metric_rows, blessing_rows = _derived_rows(batch)
    for table, rows in (
        (t.execution, [execution_row(e, batch.type_names.get(e.type_id, "?")) for e in new_execs]),
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
                      frozenset(i for i in artifact_ids if i not in known))


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

    A concurrent indexer that won the race shows up as a unique-key violation: the
    rows are already there, so only the journal entries are cleared (and ``(0, 0)``
    returned). A transaction rolled back to break a deadlock (8 writers on MariaDB hit
    one in 8,000 runs) is run again, with a short jittered backoff.

    Raises:
        IndexBehind: still deadlocked after the retries; MLMD has the executions and their
            journal rows stay, so whoever opens the store next indexes them.
    """
    journal_ids = list(journal_ids)
    for attempt in range(DEADLOCK_ATTEMPTS):
        try:
            with engine.begin() as connection:
                counts = write_batch(connection, batch)
                _clear_journal(connection, journal_ids)
                return counts
        except IntegrityError:
            with engine.begin() as connection:
                _clear_journal(connection, journal_ids)
            return 0, 0
        except DBAPIError as e:
            if not is_deadlock(e):
                raise
            if attempt == DEADLOCK_ATTEMPTS - 1:
                raise errors.IndexBehind(f"the index write stayed deadlocked after {DEADLOCK_ATTEMPTS} attempts "
                                     "(ML Metadata has the execution; the next open of the store indexes it)") from e
            time.sleep(random.uniform(0, 0.01 * 2 ** attempt))
    raise AssertionError("unreachable")


_DELETE_JOURNAL = delete(t.journal).where(t.journal.c.external_id == bindparam("external_id"))


def _clear_journal(connection: Connection, journal_ids: list[str]) -> None:
    if journal_ids:
        execute_many(connection, _DELETE_JOURNAL, ("external_id",), [(j,) for j in journal_ids])
