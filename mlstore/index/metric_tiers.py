"""Metric rows in two tiers: recent rows appended cheaply, older rows in the series index.

Why two: a day's evaluation adds a row per (slice, metric), 200 in a typical day, one
for each series. In an index ordered by series each row lands on a different leaf page,
so indexing one day at a time rewrites ~200 pages a day (about 4 ms of a day's logging
at 10,000 days on SQLite). New rows go to ``mlstore_metric_recent`` instead, which
has only its primary key (evaluation first): a day's rows sit together on a few pages.
Once it holds :data:`FOLD_ROWS` rows, :func:`fold` moves them to ``mlstore_metric`` in
one transaction, sorted by series: each series' new rows share the last pages of its
range, and a day's share of a fold is ~1.5 ms.

Readers see both tiers through :func:`both` (a ``UNION ALL``); the recent tier is
small enough to scan (~1 ms). A row is in exactly one tier in every committed state.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from sqlalchemy import Select, bindparam, delete, func, insert, literal, select, union, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.selectable import CompoundSelect

from mlstore.index import tables as t

log = logging.getLogger(__name__)

#: Rows the recent tier collects before they are folded (about 40 days of 200 metrics).
FOLD_ROWS = 8192

_COLUMNS = [c.name for c in t.metric.columns]


def both(build: Callable[[ReadOnlyColumnCollection], Select], order_by: Sequence[str] = ()) -> CompoundSelect:
    """``build(columns)`` over each tier, as one ``UNION ALL``, in ascending ``order_by`` order.

    ``build`` gets a tier's columns (``table.c``); ``order_by`` names selected columns
    (for other orders, sort on the result's ``selected_columns``).
    """
    query = union_all(build(t.metric.c), build(t.metric_recent.c))
    return query.order_by(*(query.selected_columns[name] for name in order_by))


def recent_rows(connection: Connection) -> int:
    """Rows in the recent tier."""
    return connection.scalar(select(func.count()).select_from(t.metric_recent))


class FoldSchedule:
    """Folds once the recent tier has reached :data:`FOLD_ROWS`, counting writes in process.

    The tier is counted once, at the first write, then after each fold; in between this
    process adds the rows it wrote, which spares a ``COUNT`` per write. Rows other
    processes write are counted at their folds: with several writers the tier holds at
    most a few times :data:`FOLD_ROWS`.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._rows: int | None = None

    def added(self, rows: int) -> None:
        """Records ``rows`` new recent rows (committed); folds when the tier is full.

        Never raises: the write it follows is committed (an error here would invite a
        retry that logs it twice), and unfolded rows are still read correctly.
        """
        try:
            if self._rows is None:
                with self.engine.connect() as connection:
                    self._rows = recent_rows(connection)
            else:
                self._rows += rows
            if self._rows >= FOLD_ROWS:
                fold(self.engine)
                with self.engine.connect() as connection:
                    self._rows = recent_rows(connection)
        except SQLAlchemyError as error:
            log.warning("metric rows not folded yet (the next write tries again): %s", error)
            self._rows = None


def fold(engine: Engine) -> int:
    """Moves the recent tier's rows into ``mlstore_metric``, in one transaction.

    Returns the number of rows moved; 0 when there was nothing to move or another
    process folded the same rows first (its copy wins: a unique-key violation or a
    lock conflict rolls this one back, and the rows are never in both tiers).
    """
    r = t.metric_recent.c
    with engine.connect() as connection:
        evaluation_ids = list(connection.scalars(select(r.evaluation_id).distinct()))
    if not evaluation_ids:
        return 0
    moving = r.evaluation_id.in_(evaluation_ids)
    rows = (select(*(r[name] for name in _COLUMNS)).where(moving)
            .order_by(*(r[name] for name in t.SERIES_INDEX_COLUMNS)))  # in the series index's order
    try:
        with engine.begin() as connection:
            copied = connection.execute(insert(t.metric).from_select(_COLUMNS, rows)).rowcount
            removed = connection.execute(delete(t.metric_recent).where(moving)).rowcount
            if copied != removed:
                raise _LostRace()
            return copied
    except (_LostRace, IntegrityError, OperationalError):
        # Another process is folding the same rows (lock conflict, duplicate key, or
        # rows that vanished in between): its transaction moves them.
        return 0


class _LostRace(Exception):
    """Rows changed tier between the copy and the delete of :func:`fold`."""


def distinct_values(connection: Connection, column: str, **equal: str) -> list[str]:
    """Sorted distinct values of ``column`` among the metric rows matching ``equal``.

    The series index holds millions of rows but only a few distinct metric names and
    slices: the folded tier is read by a skip scan (one index seek per distinct value,
    as a recursive CTE), the recent tier by a plain scan. ``equal`` must name a prefix
    of the index (``pipeline`` then ``metric``) followed by ``column``.
    """
    m, r = t.metric.c, t.metric_recent.c
    where = [m[name] == value for name, value in equal.items()]
    recent = select(r[column].label("value")).where(*(r[name] == value for name, value in equal.items()))
    if connection.dialect.name in ("mysql", "mariadb"):
        # MariaDB runs the recursive step's correlated ``MIN(column) ... > skip.value`` as a
        # scan of every row of the prefix (the pipeline's whole history, per distinct value;
        # ANALYZE: r_rows 18,000 a step at 100 days); with the bound value as a parameter
        # the same MIN is one index seek ("Select tables optimized away"): a round trip each.
        found: set[str] = set(connection.scalars(recent))
        following = select(func.min(m[column])).where(*where, m[column] > bindparam("after"))
        value = connection.scalar(select(func.min(m[column])).where(*where))
        while value is not None:
            found.add(value)
            value = connection.scalar(following, {"after": value})
        return sorted(found)
    skip = select(select(func.min(m[column])).where(*where).scalar_subquery().label("value")).cte(
        "skip", recursive=True)
    following = select(func.min(m[column])).where(*where, m[column] > skip.c.value).scalar_subquery()
    skip = skip.union_all(select(following.label("value")).where(skip.c.value.is_not(None)))
    query = union(select(skip.c.value).where(skip.c.value.is_not(None)), recent)
    return sorted(connection.scalars(query))


def distinct_values_of_each(connection: Connection, column: str, by: str, values: Sequence[str],
                            **equal: str) -> list[str]:
    """Sorted distinct values of ``column`` among the rows matching ``equal`` whose ``by``
    is one of ``values`` (``equal``, ``by``, ``column``: a prefix of the series index).

    The same answer as :func:`distinct_values` per value, in fewer round trips on
    MariaDB: one statement per step of the skip scans, which advance together (a seek
    per value and step), so a pipeline's slices of 20 metrics cost ~11 statements, not 220.
    """
    if connection.dialect.name not in ("mysql", "mariadb"):
        return sorted({v for value in values for v in distinct_values(connection, column, **equal, **{by: value})})
    m, r = t.metric.c, t.metric_recent.c
    where = [m[name] == value for name, value in equal.items()]
    found: set[str] = set(connection.scalars(select(r[column]).where(
        *(r[name] == value for name, value in equal.items()), r[by].in_(list(values)))))
    after: dict[str, str | None] = {value: None for value in values}
    while after:
        steps = [select(literal(value).label("by"), func.min(m[column]).label("value"))
                 .where(*where, m[by] == value, *([m[column] > last] if last is not None else []))
                 for value, last in after.items()]
        for value, following in connection.execute(union_all(*steps) if len(steps) > 1 else steps[0]).all():
            if following is None:
                del after[value]
            else:
                found.add(following)
                after[value] = following
    return sorted(found)


__all__ = ["FOLD_ROWS", "FoldSchedule", "both", "distinct_values", "distinct_values_of_each", "fold", "recent_rows"]
