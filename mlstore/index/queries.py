"""Read queries over the index: artifacts, executions, metric series, blessings.

The statements of the per-request lookups (one node, its events, an evaluation's
metrics, the latest blessed model) are built once, with bound parameters: building a
statement and its cache key costs SQLAlchemy about twice as long as running it.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import zlib
from typing import Sequence

from sqlalchemy import and_, bindparam, func, select, true
from sqlalchemy.engine import Connection, Row

from mlstore.index import metric_tiers
from mlstore.index import tables as t
from mlstore.index.model_queries import is_rerun
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint


def to_artifact(row: Row) -> Artifact:
    return artifact_of(row._mapping)


def artifact_of(m) -> Artifact:
    """An artifact from its index columns (a row's mapping, or the dict the writer inserted)."""
    return Artifact(
        id=m["id"], type=m["type"], uri=m["uri"], digest=m["digest"], size=m["size"],
        state=m["state"], pipeline=m["pipeline"], span=m["span"],
        create_time_ms=m["create_time_ms"], name=m["name"], properties=joined_properties(m["properties"], m.get("packed")),
    )


def joined_properties(properties: str, packed: bytes | None) -> dict:
    """The properties of an artifact from its ``properties`` and ``packed`` columns
    (see ``writer.split_properties``), sorted by name."""
    props = json.loads(properties)
    if packed is None:
        return props
    props.update(json.loads(zlib.decompress(packed)))
    return dict(sorted(props.items()))


def to_execution(row: Row) -> Execution:
    m = row._mapping
    return Execution(
        id=m["id"], type=m["type"], state=m["state"], pipeline=m["pipeline"],
        create_time_ms=m["create_time_ms"], properties=json.loads(m["properties"]),
    )


_ARTIFACT_BY_ID = select(t.artifact).where(t.artifact.c.id == bindparam("id"))
_EXECUTION_BY_ID = select(t.execution).where(t.execution.c.id == bindparam("id"))


def artifact_by_id(connection: Connection, artifact_id: int) -> Artifact | None:
    """One artifact (``None`` when absent)."""
    row = connection.execute(_ARTIFACT_BY_ID, {"id": artifact_id}).first()
    return to_artifact(row) if row is not None else None


def execution_by_id(connection: Connection, execution_id: int) -> Execution | None:
    """One execution (``None`` when absent)."""
    row = connection.execute(_EXECUTION_BY_ID, {"id": execution_id}).first()
    return to_execution(row) if row is not None else None


def artifacts_by_id(connection: Connection, ids: Sequence[int]) -> dict[int, Artifact]:
    rows = connection.execute(select(t.artifact).where(t.artifact.c.id.in_(list(ids))))
    return {r.id: to_artifact(r) for r in rows}


def executions_by_id(connection: Connection, ids: Sequence[int]) -> dict[int, Execution]:
    rows = connection.execute(select(t.execution).where(t.execution.c.id.in_(list(ids))))
    return {r.id: to_execution(r) for r in rows}


def _list(connection: Connection, table, convert, *, type, pipeline, state, after_id, limit, order, before_id,
          since_ms) -> list:
    """Rows of ``table`` (artifacts or executions) in id order, filtered; see :func:`_window`."""
    query = _window(select(table), table, order, after_id, before_id, since_ms)
    for column, value in (("type", type), ("pipeline", pipeline), ("state", state)):
        if value:
            query = query.where(table.c[column] == value)
    if limit is not None:
        query = query.limit(limit)
    return [convert(r) for r in connection.execute(query)]


def list_artifacts(connection: Connection, *, type: str | None = None, pipeline: str | None = None,
                   state: str | None = None, after_id: int = 0, limit: int | None = None, order: str = "asc",
                   before_id: int | None = None, since_ms: int | None = None) -> list[Artifact]:
    """Artifacts in id order (``order="desc"``: newest first), filtered; see :func:`_window`."""
    return _list(connection, t.artifact, to_artifact, type=type, pipeline=pipeline, state=state, after_id=after_id,
                 limit=limit, order=order, before_id=before_id, since_ms=since_ms)


def list_executions(connection: Connection, *, type: str | None = None, pipeline: str | None = None,
                    state: str | None = None, after_id: int = 0, limit: int | None = None, order: str = "asc",
                    before_id: int | None = None, since_ms: int | None = None) -> list[Execution]:
    """Executions in id order (``order="desc"``: newest first), filtered; see :func:`_window`."""
    return _list(connection, t.execution, to_execution, type=type, pipeline=pipeline, state=state,
                 after_id=after_id, limit=limit, order=order, before_id=before_id, since_ms=since_ms)


def artifact_ids_by_digest_prefix(connection: Connection, prefix: str, limit: int = 50) -> list[tuple[int, str]]:
    """``(id, digest)`` of artifacts whose digest starts with ``prefix``, newest first."""
    a = t.artifact.c
    rows = connection.execute(
        select(a.id, a.digest).where(a.digest.like(prefix + "%")).order_by(a.id.desc()).limit(limit)
    )
    return [(r.id, r.digest) for r in rows]


_EVENT = select(t.event.c.execution_id, t.event.c.artifact_id, t.event.c.is_output, t.event.c.role)
_EVENTS_OF_EXECUTION = (_EVENT.where(t.event.c.execution_id == bindparam("id"))
                        .order_by(t.event.c.is_output, t.event.c.role, t.event.c.artifact_id))
_EVENTS_OF_ARTIFACT = _EVENT.where(t.event.c.artifact_id == bindparam("id")).order_by(t.event.c.execution_id)


def events_of_execution(connection: Connection, execution_id: int) -> list[EventRecord]:
    return [EventRecord(*r) for r in connection.execute(_EVENTS_OF_EXECUTION, {"id": execution_id})]


def events_of_artifact(connection: Connection, artifact_id: int) -> list[EventRecord]:
    return [EventRecord(*r) for r in connection.execute(_EVENTS_OF_ARTIFACT, {"id": artifact_id})]


_SPANS_BY_ID = select(t.artifact.c.id, t.artifact.c.span).where(t.artifact.c.id.in_(bindparam("ids", expanding=True)))


def spans_by_id(connection: Connection, artifact_ids: Sequence[int]) -> dict[int, int | None]:
    """``{id: span}`` of the artifacts that exist among ``artifact_ids``."""
    return dict(connection.execute(_SPANS_BY_ID, {"ids": list(artifact_ids)}).all())


def fetch_tuples(connection: Connection, statement, **params) -> list[tuple]:
    """The rows of ``statement`` as plain tuples, straight from the DBAPI cursor.

    Why: SQLAlchemy builds a Row object per result row, ~1 µs each; a metric series
    has a point per day.
    """
    statement = compiled(connection.dialect, statement)
    args = tuple(params[name] for name in statement.positiontup) if statement.positional else params
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement.string, args)
        return cursor.fetchall()
    finally:
        cursor.close()


def execute_many(connection: Connection, statement, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """``statement`` once per row of plain values (ints, floats, strings, bools, None), as one executemany.

    ``rows`` hold the values of ``columns``, in that order. Why not
    ``connection.execute(statement, rows)``: SQLAlchemy processes each row's parameters
    in Python (~5 µs a row); a day's evaluation is 200 metric rows.
    """
    statement = compiled(connection.dialect, statement, columns)
    if not statement.positional:
        rows = [dict(zip(columns, row)) for row in rows]
    elif tuple(statement.positiontup) != columns:
        where = [columns.index(name) for name in statement.positiontup]
        rows = [tuple(row[i] for i in where) for row in rows]
    connection.exec_driver_sql(statement.string, rows)


@functools.lru_cache(maxsize=64)
def compiled(dialect, statement, column_keys: tuple[str, ...] | None = None):
    """``statement`` compiled once per dialect (and, for an insert, per set of columns)."""
    return statement.compile(dialect=dialect, column_keys=None if column_keys is None else list(column_keys))


_METRIC_SERIES = metric_tiers.both(
    lambda m: select(m.model_id, m.evaluation_id, m.span, m.value).where(m.series_id == metric_tiers.series_id()),
    order_by=("span", "model_id", "evaluation_id"))


def metric_series(connection: Connection, pipeline: str, metric: str, slice_key: str) -> list[MetricPoint]:
    """Every model's value of ``metric`` on ``slice_key`` in ``pipeline``, by span then model id.

    A model evaluated again by ``mlstore rerun`` of its Evaluator keeps one point: the
    rerun's evaluation (a verification of the day) is left out while the model has another.
    """
    rows = fetch_tuples(connection, _METRIC_SERIES, pipeline=pipeline, metric=metric, slice=slice_key)
    points = list(map(MetricPoint._make, rows))
    if len({row[0] for row in rows}) == len(rows):  # the usual case: one evaluation per model, nothing more to do
        return points
    counts = collections.Counter(p.model_id for p in points)
    evaluations: dict[int, set[int]] = {}
    for point in points:
        if counts[point.model_id] > 1:
            evaluations.setdefault(point.model_id, set()).add(point.evaluation_id)
    reruns = rerun_outputs(connection, [e for ids in evaluations.values() for e in ids])
    dropped = {e for ids in evaluations.values() if not ids <= reruns for e in ids & reruns}
    return [p for p in points if p.evaluation_id not in dropped]


def rerun_outputs(connection: Connection, artifact_ids: Sequence[int]) -> set[int]:
    """Those of ``artifact_ids`` that an ``mlstore rerun`` execution produced."""
    e, x = t.event.c, t.execution.c
    rows = connection.execute(select(e.artifact_id, x.properties)
                              .select_from(t.event.join(t.execution, x.id == e.execution_id))
                              .where(e.artifact_id.in_(list(artifact_ids)), e.is_output.is_(True)))
    return {artifact_id for artifact_id, properties in rows if is_rerun(properties)}


def _evaluation_rows(m):
    s = t.metric_series.c
    query = (select(s.slice, s.metric, m.value).join_from(m.series_id.table, t.metric_series, s.id == m.series_id)
             .where(m.evaluation_id == bindparam("id")))
    if m.series_id.table is t.metric:  # keyed series first: a seek per series (IN makes SQLite seek, not scan)
        query = query.where(m.series_id.in_(select(s.id).scalar_subquery()))
    return query


#: An evaluation's rows: a primary-key seek per entry of the series dictionary in the
#: folded tier, one range of the recent tier.
_METRICS_OF_EVALUATION = metric_tiers.both(_evaluation_rows)


def metrics_of_evaluation(connection: Connection, evaluation_id: int) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of an evaluation, slices and metrics sorted by name."""
    result: dict[str, dict[str, float]] = {}
    for slice_key, name, value in sorted(fetch_tuples(connection, _METRICS_OF_EVALUATION, id=evaluation_id)):
        result.setdefault(slice_key, {})[name] = value
    return result


def to_blessing(row: Row) -> Blessing:
    m = row._mapping
    return Blessing(
        id=m["id"], model_id=m["model_id"], baseline_id=m["baseline_id"], evaluation_id=m["evaluation_id"],
        pipeline=m["pipeline"], blessed=bool(m["blessed"]), span=m["span"], create_time_ms=m["create_time_ms"],
    )


#: Blessed models of a pipeline, newest (span, model id) first, each with its producing
#: execution's properties (NULL when no producer is recorded), so one statement per page
#: both orders the candidates and tells a rerun's copy from the daily model.
_LATEST_BLESSED = (select(t.blessing.c.model_id, t.execution.c.properties)
                   .select_from(t.blessing
                                .outerjoin(t.event, and_(t.event.c.artifact_id == t.blessing.c.model_id,
                                                         t.event.c.is_output.is_(True)))
                                .outerjoin(t.execution, t.execution.c.id == t.event.c.execution_id))
                   # `= true`, not `IS true`: MariaDB seeks (pipeline, blessed) only for an equality
                   # (with IS it reads and sorts every blessing of the pipeline)
                   .where(and_(t.blessing.c.pipeline == bindparam("pipeline"), t.blessing.c.blessed == true()))
                   .order_by(t.blessing.c.span.desc(), t.blessing.c.model_id.desc())
                   .limit(bindparam("limit")).offset(bindparam("offset")))


def latest_blessed_model_id(connection: Connection, pipeline: str) -> int | None:
    """The blessed daily model with the newest (span, model id) in ``pipeline``: a model
    ``mlstore rerun`` produced is a verification of a day, never the latest, even if gated."""
    page = 8
    for offset in itertools.count(0, page):
        rows = connection.execute(_LATEST_BLESSED, {"pipeline": pipeline, "limit": page, "offset": offset}).all()
        if not rows:
            return None
        for model_id, properties in rows:
            if not is_rerun(properties):
                return model_id


def blessings(connection: Connection, *, pipeline: str | None = None, model_id: int | None = None) -> list[Blessing]:
    b = t.blessing.c
    query = select(t.blessing).order_by(b.id)
    if pipeline:
        query = query.where(b.pipeline == pipeline)
    if model_id is not None:
        query = query.where(b.model_id == model_id)
    return [to_blessing(r) for r in connection.execute(query)]


def pipelines(connection: Connection) -> list[str]:
    e = t.execution.c
    return [r[0] for r in connection.execute(select(e.pipeline).distinct().where(e.pipeline.is_not(None)).order_by(e.pipeline))]



# -- newest-first paging and catalogues (the dashboard's queries) -----------------------

def _window(query, table, order: str, after_id: int, before_id: int | None, since_ms: int | None):
    """Restricts ``query`` to ``after_id < id < before_id`` and ``create_time_ms >= since_ms``, sorted by id.

    Page forward with ``after_id`` (the last id seen, ascending) or backward with
    ``before_id`` (the last id seen, descending); both use the primary key.
    """
    c = table.c
    query = query.where(c.id > after_id)
    if before_id is not None:
        query = query.where(c.id < before_id)
    if since_ms is not None:
        query = query.where(c.create_time_ms >= since_ms)
    return query.order_by(c.id.desc() if order == "desc" else c.id)


def complete_execution_ids_by_cache_key(connection: Connection, cache_key: str) -> list[int]:
    """Ids of COMPLETE executions recorded with ``cache_key``, newest first."""
    e = t.execution.c
    return list(connection.scalars(
        select(e.id).where(e.cache_key == cache_key, e.state == "COMPLETE").order_by(e.id.desc())))


def newest_execution_id(connection: Connection) -> int:
    """The largest execution id, 0 for an empty store (one primary-key lookup)."""
    return connection.scalar(select(func.max(t.execution.c.id))) or 0


def metric_names(connection: Connection, pipeline: str) -> list[str]:
    """Sorted names of every metric evaluated in ``pipeline``."""
    return metric_tiers.distinct_values(connection, "metric", pipeline=pipeline)


def slice_keys(connection: Connection, pipeline: str, metric: str | None = None) -> list[str]:
    """Sorted slice keys evaluated in ``pipeline`` (only those with ``metric`` when given)."""
    return metric_tiers.distinct_values(connection, "slice", pipeline=pipeline,
                                        **({"metric": metric} if metric is not None else {}))
