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


def read_file(split: str, file_number: int, path: str, batch_size: int) -> Iterator[RawBatch]:
    """Every column of one file of a split, in batches numbered in file order.

    Raises:
        NotFound: the file does not exist. InvalidArgument: not CSV or Parquet.
    """
    data_format(path)
    column_names(path)  # NotFound for a missing file
    for batch_number, frame in enumerate(read_batches(path, batch_size)):
        yield RawBatch(split, (file_number, batch_number), frame)


def merge_types(a: str | None, b: str | None) -> str | None:
    """The wider of two column types (``None`` < INT < FLOAT < STRING)."""
    return a if _ORDER[a] >= _ORDER[b] else b


def batch_types(frame: pd.DataFrame) -> dict[str, str | None]:
    """The type each column of one batch needs (``None``: no value in this batch)."""
    return {str(name): column_type(frame[name]) for name in frame.columns}


def column_type(series: pd.Series) -> str | None:
    """The narrowest type holding every non-missing value of one batch's column."""
    if series.isna().all():
        return None
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
        return INT
    if pd.api.types.is_float_dtype(series.dtype):
        return FLOAT if np.isfinite(series.dropna().to_numpy(dtype=np.float64)).all() else STRING
    return STRING


def numeric_values(series: pd.Series | None, num_rows: int) -> tuple[np.ndarray, int]:
    """(non-missing values as float64, number missing) of a numeric column; ``None``: absent."""
    if series is None:
        return np.empty(0, dtype=np.float64), num_rows
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    keep = ~np.isnan(values)
    return values[keep], int((~keep).sum())


def string_counts(series: pd.Series | None, num_rows: int) -> tuple[Counter, int]:
    """(count of each non-missing value as text, number missing) of a string column; ``None``: absent."""
    if series is None:
        return Counter(), num_rows
    counts: Counter = Counter()
    for value, count in series.value_counts(dropna=True, sort=False).items():
        counts[str(value)] += int(count)
    return counts, int(series.isna().sum())
