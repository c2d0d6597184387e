"""Read queries over the index: artifacts, executions, metric series, blessings."""

from __future__ import annotations

import json
from typing import Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection, Row

from mlstore.index import tables as t
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint


def to_artifact(row: Row) -> Artifact:
    m = row._mapping
    return Artifact(
        id=m["id"], type=m["type"], uri=m["uri"], digest=m["digest"], size=m["size"],
        state=m["state"], pipeline=m["pipeline"], span=m["span"],
        create_time_ms=m["create_time_ms"], name=m["name"], properties=json.loads(m["properties"]),
    )


def to_execution(row: Row) -> Execution:
    m = row._mapping
    return Execution(
        id=m["id"], type=m["type"], state=m["state"], pipeline=m["pipeline"],
        create_time_ms=m["create_time_ms"], properties=json.loads(m["properties"]),
    )


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


def events_of_execution(connection: Connection, execution_id: int) -> list[EventRecord]:
    ev = t.event.c
    rows = connection.execute(
        select(ev.execution_id, ev.artifact_id, ev.is_output, ev.role)
        .where(ev.execution_id == execution_id)
        .order_by(ev.is_output, ev.role, ev.artifact_id)
    )
    return [EventRecord(*r) for r in rows]


def events_of_artifact(connection: Connection, artifact_id: int) -> list[EventRecord]:
    ev = t.event.c
    rows = connection.execute(
        select(ev.execution_id, ev.artifact_id, ev.is_output, ev.role)
        .where(ev.artifact_id == artifact_id)
        .order_by(ev.execution_id)
    )
    return [EventRecord(*r) for r in rows]


def spans_by_id(connection: Connection, artifact_ids: Sequence[int]) -> dict[int, int | None]:
    """``{id: span}`` of the artifacts that exist among ``artifact_ids``."""
    a = t.artifact.c
    return dict(connection.execute(select(a.id, a.span).where(a.id.in_(list(artifact_ids)))).all())


def metric_series(connection: Connection, pipeline: str, metric: str, slice_key: str) -> list[MetricPoint]:
    """Every model's value of ``metric`` on ``slice_key`` in ``pipeline``, by span then model id."""
    m = t.metric.c
    rows = connection.execute(
        select(m.model_id, m.evaluation_id, m.span, m.value)
        .where(m.pipeline == pipeline, m.metric == metric, m.slice == slice_key)
        .order_by(m.span, m.model_id, m.evaluation_id)
    )
    return [MetricPoint._make(r) for r in rows]


def metrics_of_evaluation(connection: Connection, evaluation_id: int) -> dict[str, dict[str, float]]:
    m = t.metric.c
    result: dict[str, dict[str, float]] = {}
    for slice_key, name, value in connection.execute(
        select(m.slice, m.metric, m.value).where(m.evaluation_id == evaluation_id)
    ):
        result.setdefault(slice_key, {})[name] = value
    return result


def to_blessing(row: Row) -> Blessing:
    m = row._mapping
    return Blessing(
        id=m["id"], model_id=m["model_id"], baseline_id=m["baseline_id"], evaluation_id=m["evaluation_id"],
        pipeline=m["pipeline"], blessed=bool(m["blessed"]), span=m["span"], create_time_ms=m["create_time_ms"],
    )


def latest_blessed_model_id(connection: Connection, pipeline: str) -> int | None:
    """The blessed model with the newest (span, model id) in ``pipeline``."""
    b = t.blessing.c
    row = connection.execute(
        select(b.model_id)
        .where(and_(b.pipeline == pipeline, b.blessed.is_(True)))
        .order_by(b.span.desc(), b.model_id.desc())
        .limit(1)
    ).first()
    return row.model_id if row else None


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


def newest_execution_id(connection: Connection) -> int:
    """The largest execution id, 0 for an empty store (one primary-key lookup)."""
    return connection.scalar(select(func.max(t.execution.c.id))) or 0


def metric_names(connection: Connection, pipeline: str) -> list[str]:
    """Sorted names of every metric evaluated in ``pipeline``."""
    m = t.metric.c
    return list(connection.scalars(select(m.metric).distinct().where(m.pipeline == pipeline).order_by(m.metric)))


def slice_keys(connection: Connection, pipeline: str, metric: str | None = None) -> list[str]:
    """Sorted slice keys evaluated in ``pipeline`` (only those with ``metric`` when given)."""
    m = t.metric.c
    query = select(m.slice).distinct().where(m.pipeline == pipeline)
    if metric is not None:
        query = query.where(m.metric == metric)
    return list(connection.scalars(query.order_by(m.slice)))
