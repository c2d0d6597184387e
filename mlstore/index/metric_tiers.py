"""Metric rows in two tiers: recent rows appended cheaply, older rows in the series index.

Why two: a day's evaluation adds a row per (slice, metric), 200 in a typical day, one
for each series. In an index ordered by series each row lands on a different leaf page,
so indexing one day at a time rewrites ~200 pages a day (about 4 ms of a day's logging
at 10,000 days on SQLite). New rows go to ``mlstore_metric_value_recent`` instead,
keyed by evaluation first: a day's rows sit together on a few pages. Once it holds
:data:`FOLD_ROWS` rows, :func:`fold` moves them to ``mlstore_metric_value`` (keyed by
series first: the table is the series index) in one transaction, sorted by series:
each series' new rows share the last pages of its range, and a day's share of a fold
is ~1.5 ms.

Readers see both tiers through :func:`both` (a ``UNION ALL``); the recent tier is
small enough to scan (~1 ms). A row is in exactly one tier in every committed state.

Rows name their (pipeline, metric, slice) by ``series_id``, an entry of the small
``mlstore_metric_series`` dictionary (:func:`series_ids`, :func:`ensure_series`). An
entry is never deleted or renumbered (``reindex`` keeps them), so an id read in one
transaction is still right in the next; readers list names only of series with rows.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from sqlalchemy import Select, bindparam, delete, exists, func, insert, or_, select, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.selectable import ScalarSelect
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


#: A series' (pipeline, metric, slice) names, as stored: "" for no pipeline.
SeriesKey = tuple[str, str, str]


def series_key(pipeline: str | None, metric: str, slice_key: str) -> SeriesKey:
    return (pipeline or "", metric, slice_key)


def series_id() -> ScalarSelect:
    """The id of the series named by the parameters ``pipeline``, ``metric`` and ``slice``
    (NULL when there is none: the query matches no row)."""
    s = t.metric_series.c
    return (select(s.id).where(s.pipeline == bindparam("pipeline"), s.metric == bindparam("metric"),
                               s.slice == bindparam("slice")).scalar_subquery())


_SERIES_OF_PIPELINES = select(t.metric_series.c.pipeline, t.metric_series.c.metric, t.metric_series.c.slice,
                              t.metric_series.c.id).where(
    t.metric_series.c.pipeline.in_(bindparam("pipelines", expanding=True)))


def series_ids(connection: Connection, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
    """``{key: id}`` of those of ``keys`` the dictionary has (one query: every series of
    their pipelines, a few hundred rows each)."""
    rows = connection.execute(_SERIES_OF_PIPELINES, {"pipelines": sorted({k[0] for k in keys})})
    return {key: i for *names, i in rows if (key := tuple(names)) in keys}


def ensure_series(engine: Engine, keys: set[SeriesKey], attempts: int = 5) -> dict[SeriesKey, int]:
    """``{key: id}`` for every one of ``keys``, adding the missing ones to the dictionary.

    In transactions of their own, before the rows that use them: a writer adding the
    same new series at the same time makes one attempt fail with a unique-key
    violation, and the next attempt reads the winner's id.

    Raises:
        IntegrityError: still conflicting after ``attempts``.
    """
    for attempt in range(attempts):
        try:
            with engine.begin() as connection:
                found = series_ids(connection, keys)
                missing = sorted(keys - found.keys())
                if missing:
                    connection.execute(insert(t.metric_series),
                                       [{"pipeline": p, "metric": m, "slice": k} for p, m, k in missing])
                    found.update(series_ids(connection, set(missing)))
                return found
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def distinct_values(connection: Connection, column: str, **equal: str) -> list[str]:
    """Sorted distinct values of ``column`` (``metric`` or ``slice``) among the series that
    have metric rows and match ``equal`` (``pipeline``, optionally ``metric``).

    Reads the small series dictionary: an existence probe per entry in the folded tier
    (a primary-key seek) and one scan of the recent tier.
    """
    s, m, r = t.metric_series.c, t.metric.c, t.metric_recent.c
    has_rows = or_(exists().where(m.series_id == s.id), s.id.in_(select(r.series_id)))
    query = (select(s[column]).distinct()
             .where(*(s[name] == (value or "") for name, value in equal.items()), has_rows))
    return sorted(connection.scalars(query))


__all__ = ["FOLD_ROWS", "FoldSchedule", "SeriesKey", "both", "distinct_values", "ensure_series", "fold",
           "recent_rows", "series_id", "series_ids", "series_key"]
