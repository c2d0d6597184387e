"""Raw columns of an Examples split: reading, type inference, values per batch.

Files are read as the Evaluator reads Examples (:func:`mlstore.components.evaluator.data.read_batches`:
pandas, CSV or Parquet, in batches), so *missing* is what pandas reads as missing: an
empty cell, null, NaN, or one of pandas' NA strings (``NA``, ``nan``, ``null``, ...).

A CSV column has no declared type, so each column gets the narrowest type that holds
all its non-missing values over the whole split: ``INT`` (integers), ``FLOAT`` (numbers;
also integers written with a missing cell among them, which pandas reads as floats),
else ``STRING``. A column with no value at all has no type (``None``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlstore.components.evaluator.data import column_names, data_format, read_batches

INT = "INT"
FLOAT = "FLOAT"
STRING = "STRING"
#: Narrowest first: merging two batches' types keeps the wider one.
_ORDER = {None: 0, INT: 1, FLOAT: 2, STRING: 3}


@dataclass(frozen=True)
class RawBatch:
    """Up to ``batch_size`` rows of one file of one split, cells as read."""

    split: str
    batch_id: tuple[int, int]  # (file number within the split, batch number within the file)
    frame: pd.DataFrame
    path: str = ""  # the file, and the batch size it was read with: where to find the batch again
    batch_size: int = 0


def read_file(split: str, file_number: int, path: str, batch_size: int) -> Iterator[RawBatch]:
    """Every column of one file of a split, in batches numbered in file order.

    Raises:
        NotFound: the file does not exist. InvalidArgument: not CSV or Parquet.
    """
    data_format(path)
    column_names(path)  # NotFound for a missing file
    for batch_number, frame in enumerate(read_batches(path, batch_size)):
        yield RawBatch(split, (file_number, batch_number), frame, path, batch_size)


def merge_types(a: str | None, b: str | None) -> str | None:
    """The wider of two column types (``None`` < INT < FLOAT < STRING)."""
    return a if _ORDER[a] >= _ORDER[b] else b






def column_values(series: pd.Series) -> tuple[str | None, np.ndarray | Counter | None]:
    """The type of one batch's column and its non-missing values, each cell converted once.

    Returns ``(INT or FLOAT, values as float64)``, ``(STRING, count of each value as text)``
    or ``(None, None)`` (no value in this batch). A float column holding an infinity is a
    STRING column.
    """
    dtype = series.dtype
    is_int = pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)
    if is_int or pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        if not finite.all():
            missing = np.isnan(values)
            if missing.all():
                return None, None
            if (finite | missing).all():
                values = values[finite]
            else:  # an infinity: only text holds it
                return STRING, _value_counts(series)
        if values.size == 0:
            return None, None
        return (INT if is_int else FLOAT), values
    counts = _value_counts(series)
    return (STRING, counts) if counts else (None, None)


def _value_counts(series: pd.Series) -> Counter:
    counts: Counter = Counter()
    for value, count in series.value_counts(dropna=True, sort=False).items():
        counts[str(value)] += int(count)
    return counts






def string_counts_of_batches(path: str, batch_size: int, name: str, batch_numbers: set[int]) -> Counter:
    """The value counts (as text) of column ``name`` in the given batches of one file, read
    again: for a column read as numbers in some batches that turned out a STRING column."""
    counts: Counter = Counter()
    for number, frame in enumerate(read_batches(path, batch_size, columns=[name])):
        if number in batch_numbers:
            counts.update(_value_counts(frame[name]))
    return counts
