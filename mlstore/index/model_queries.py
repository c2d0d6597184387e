"""Bulk read queries over the index for choosing among a pipeline's models.

Each function is one SQL statement over a whole pipeline, so a selection over
thousands of models costs a few round trips, never one per model.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import JSON, Integer, Select, bindparam, cast, exists, func, select, true, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from mlstore.index import metric_tiers
from mlstore.index import tables as t

#: Model properties read for the compatibility check (see ``schema.py``, type Model).
COMPATIBILITY_PROPERTIES = ("spec_digest", "input_signature", "layers")


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One Model artifact as the index holds it; property values are raw (JSON text)."""

    id: int
    span: int | None
    create_time_ms: int
    state: str
    spec_digest: str | None = None
    input_signature: str | None = None
    layers: str | None = None
    value: float | None = None  # the metric value, in ranked metric pages
    evaluation_id: int | None = None


def _property(dialect: str, name: str) -> ColumnElement:
    """One top-level property of ``artifact.properties`` (JSON text), extracted in SQL.

    Why in SQL: parsing every model's whole property JSON in Python costs more than
    the rest of a selection; the database hands back just the three strings needed.
    """
    column = t.artifact.c.properties
    if dialect == "postgresql":
        column = cast(column, JSON)  # TEXT has no ->> operator on PostgreSQL
    else:
        column = type_coerce(column, JSON)
    return column[name].as_string().label(name)


def _model_columns(dialect: str, with_properties: bool) -> list:
    """The columns of a ModelRow (``dialect``: the connection's dialect name)."""
    a = t.artifact.c
    columns = [a.id, a.span, a.create_time_ms, a.state]
    return columns + ([_property(dialect, name) for name in COMPATIBILITY_PROPERTIES] if with_properties else [])


def model_rows(connection: Connection, pipeline: str, *, with_properties: bool = False) -> list[ModelRow]:
    """Every Model artifact of ``pipeline``, in id order.

    Args:
        connection: an index connection.
        pipeline: pipeline name.
        with_properties: also read :data:`COMPATIBILITY_PROPERTIES`.

    Returns:
        One :class:`ModelRow` per Model artifact, whatever its state.
    """
    a = t.artifact.c
    query = (select(*_model_columns(connection.dialect.name, with_properties))
             .where(a.type == "Model", a.pipeline == pipeline).order_by(a.id))
    # Positional: the selected columns are ModelRow's leading fields, in order (10,000
    # rows build measurably faster than by name).
    return [ModelRow(*row) for row in connection.execute(query).all()]


def _newest_first(connection: Connection) -> list:
    """ORDER BY for the recency rule: span descending (no span last), create time, id."""
    a = t.artifact.c
    span = a.span.desc()
    if connection.dialect.name == "postgresql":
        span = span.nulls_last()  # SQLite and MariaDB sort NULL lowest already (and reject NULLS LAST)
    return [span, a.create_time_ms.desc(), a.id.desc()]


def newest_model_rows(connection: Connection, pipeline: str, *, as_of: int | None = None,
                      with_properties: bool = False, limit: int, offset: int = 0) -> list[ModelRow]:
    """One page of ``pipeline``'s Models, newest first (span, create time, id descending).

    Args:
        as_of: only models with a span no later than this.
        limit, offset: the page.
    """
    a = t.artifact.c
    query = (select(*_model_columns(connection.dialect.name, with_properties))
             .where(a.type == "Model", a.pipeline == pipeline))
    if as_of is not None:
        query = query.where(a.span <= as_of)
    return _page(connection, query.order_by(*_newest_first(connection)), limit, offset)


def best_model_rows(connection: Connection, pipeline: str, metric: str, slice_key: str, *, higher: bool,
                    as_of: int | None = None, with_properties: bool = False, limit: int,
                    offset: int = 0) -> list[ModelRow]:
    """One page of (evaluation, model) rows by metric value, best first, then by span and model id.

    A model evaluated several times appears once per evaluation; callers keep the row
    of its latest evaluation (see :func:`latest_evaluation_ids`).
    """
    statement = _best_statement(connection.dialect.name, higher, as_of is not None, with_properties)
    params = {"pipeline": pipeline, "metric": metric, "slice": slice_key, "limit": limit, "offset": offset}
    if as_of is not None:
        params["as_of"] = as_of
    return [ModelRow(**row._mapping) for row in connection.execute(statement, params)]


@functools.lru_cache(maxsize=32)
def _best_statement(dialect: str, higher: bool, with_as_of: bool, with_properties: bool) -> Select:
    """The statement of :func:`best_model_rows`, built once per shape (building it costs more than running it)."""
    a = t.artifact.c

    def candidates(m):
        query = select(m.model_id, m.value, m.evaluation_id, m.span).where(
            m.series_id == metric_tiers.series_id(), m.value.is_not(None), m.model_id.is_not(None))
        return query.where(m.span <= bindparam("as_of")) if with_as_of else query

    def best_first(c) -> list:
        span = c.span.desc().nulls_last() if dialect == "postgresql" else c.span.desc()
        return [c.value.desc() if higher else c.value.asc(), span, c.model_id.desc(), c.evaluation_id.desc()]

    # Rank and cut the page on the metric rows alone, then join only the page's rows:
    # joining first would look up every evaluated model just to sort.
    ranked = metric_tiers.both(candidates)
    ranked = (ranked.order_by(*best_first(ranked.selected_columns))
              .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)).subquery())
    return (select(*_model_columns(dialect, with_properties), ranked.c.value, ranked.c.evaluation_id)
            .join_from(ranked, t.artifact, a.id == ranked.c.model_id).where(a.type == "Model")
            .order_by(*best_first(ranked.c)))  # a join keeps no order of its own (MariaDB's does not)


def _page(connection: Connection, query: Select, limit: int, offset: int) -> list[ModelRow]:
    return [ModelRow(**row._mapping) for row in connection.execute(query.limit(limit).offset(offset))]


def blessed_among(connection: Connection, model_ids: Sequence[int]) -> set[int]:
    """The ids among ``model_ids`` with at least one positive gate decision."""
    b = t.blessing.c
    query = select(b.model_id).distinct().where(b.model_id.in_(list(model_ids)), b.blessed == true())
    return set(connection.scalars(query))


def latest_evaluation_ids(connection: Connection, model_ids: Sequence[int], metric: str,
                          slice_key: str) -> dict[int, int]:
    """``{model id: id of its newest evaluation with metric on slice_key}``."""
    params = {"ids": list(model_ids), "metric": metric, "slice": slice_key}
    return dict(connection.execute(_LATEST_EVALUATIONS, params).all())


def _latest_evaluations() -> Select:
    s = t.metric_series.c  # one series per pipeline with the metric on the slice: each one range of rows
    rows = metric_tiers.both(lambda m: select(m.model_id, m.evaluation_id).join_from(
        m.series_id.table, t.metric_series, s.id == m.series_id).where(
        m.model_id.in_(bindparam("ids", expanding=True)), s.metric == bindparam("metric"),
        s.slice == bindparam("slice"))).subquery()
    return select(rows.c.model_id, func.max(rows.c.evaluation_id)).group_by(rows.c.model_id)


_LATEST_EVALUATIONS = _latest_evaluations()


def count_models(connection: Connection, pipeline: str) -> int:
    """Number of Model artifacts of ``pipeline`` (any state)."""
    a = t.artifact.c
    return connection.scalar(select(func.count()).where(a.type == "Model", a.pipeline == pipeline))


def model_row(connection: Connection, model_id: int) -> ModelRow | None:
    """One Model artifact with its compatibility properties (None if no such Model)."""
    a = t.artifact.c
    query = select(*_model_columns(connection.dialect.name, True)).where(a.id == model_id, a.type == "Model")
    row = connection.execute(query).first()
    return ModelRow(**row._mapping) if row else None


def blessed_model_ids(connection: Connection, pipeline: str) -> set[int]:
    """Ids of the models of ``pipeline`` with at least one positive gate decision."""
    b = t.blessing.c
    query = select(b.model_id).distinct().where(b.pipeline == pipeline, b.blessed == true())  # `=`: an index seek on MariaDB
    return set(connection.scalars(query))


def metric_by_model(connection: Connection, pipeline: str, metric: str, slice_key: str) -> dict[int, float]:
    """``{model id: value}`` of ``metric`` on ``slice_key``, from each model's newest evaluation.

    A model evaluated twice counts with its latest evaluation (highest evaluation id);
    null values (metric not computable on the slice) are left out.
    """
    params = {"pipeline": pipeline, "metric": metric, "slice": slice_key}
    # Ascending evaluation ids: a later evaluation overwrites an earlier one.
    values = {model_id: value for model_id, value, _ in connection.execute(_METRIC_BY_MODEL, params)}
    return {model_id: value for model_id, value in values.items() if value is not None}


_METRIC_BY_MODEL = metric_tiers.both(
    lambda m: select(m.model_id, m.value, m.evaluation_id).where(
        m.series_id == metric_tiers.series_id(), m.model_id.is_not(None)),
    order_by=("evaluation_id",))


def pipeline_exists(connection: Connection, pipeline: str) -> bool:
    """True when at least one execution or artifact is recorded for ``pipeline``."""
    e, a = t.execution.c, t.artifact.c
    return bool(connection.scalar(select(
        exists().where(e.pipeline == pipeline) | exists().where(a.pipeline == pipeline))))


def _models_with_producer(connection: Connection, pipeline: str, among: Sequence[int] | None = None):
    """(model id, span, producing execution's properties JSON) of every LIVE Model of ``pipeline``
    (only those whose id is in ``among``, when given)."""
    a, e, x = t.artifact.c, t.event.c, t.execution.c
    query = (select(a.id, a.span, x.properties)
             .select_from(t.artifact.join(t.event, (e.artifact_id == a.id) & e.is_output.is_(True))
                          .join(t.execution, x.id == e.execution_id))
             .where(a.pipeline == pipeline, a.type == "Model", a.state == "LIVE"))
    if among is None:
        return list(connection.execute(query))
    ids = set(among)
    if len(ids) > _AMONG_MAX:  # most of the pipeline: one scan, then keep the asked ids
        return [row for row in connection.execute(query) if row.id in ids]
    return list(connection.execute(query.where(a.id.in_(sorted(ids))))) if ids else []


#: Above this many ids an ``among=`` query scans the pipeline instead of binding an ``IN (...)``
#: list (well under every backend's parameter limit).
_AMONG_MAX = 500


def is_rerun(properties: str | None) -> bool:
    # The rerun filter reads ``rerun_of`` from the producer's properties here, the same on every backend.
    return '"rerun_of"' in (properties or "") and json.loads(properties).get("rerun_of") is not None


def daily_model_ids(connection: Connection, pipeline: str) -> list[int]:
    """The daily model of each span of ``pipeline``, by span: the newest LIVE Model of the span
    that no ``mlstore rerun`` produced (a rerun verifies a day; it is not a new daily model).

    One statement: every LIVE Model joined to its producing execution's properties.
    """
    newest: dict[int, int] = {}
    for model_id, span, properties in _models_with_producer(connection, pipeline):
        if span is not None and not is_rerun(properties):
            newest[span] = max(newest.get(span, 0), model_id)
    return [newest[span] for span in sorted(newest)]


def rerun_model_ids(connection: Connection, pipeline: str, *, among: Sequence[int] | None = None) -> frozenset[int]:
    """The LIVE Models of ``pipeline`` that ``mlstore rerun`` produced (verifications of a day).

    ``among``: test only these model ids (the rows a caller is looking at), not every
    model of the pipeline.
    """
    return frozenset(model_id for model_id, _, properties in _models_with_producer(connection, pipeline, among)
                     if is_rerun(properties))


__all__ = ["COMPATIBILITY_PROPERTIES", "daily_model_ids", "ModelRow", "best_model_rows", "blessed_among", "blessed_model_ids",
           "count_models", "latest_evaluation_ids", "metric_by_model", "model_row", "model_rows",
           "newest_model_rows", "pipeline_exists", "rerun_model_ids"]
