"""Read CSV/Parquet files as parsed batches of raw columns, finding malformed rows.

A parsed batch is a ``dict[column name, numpy array]``: numeric columns
(``float`` and ``int``) are float64 arrays holding float32-representable values,
string columns are object arrays of ``str``. Numbers are rounded through float32
on purpose: the transform graph receives float32 tensors, so the analyze phase
must see exactly the values the graph will see.

Missing values (empty CSV field, one of :data:`MISSING_TOKENS`, NaN, null) are
replaced by the column default; without a default they make the row malformed.
Other malformed values: unparseable or non-finite numbers, non-integral values
in ``int`` columns, and a column absent from the file (every row malformed).
Row numbers are 1-based data rows (the CSV header is not counted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from mlstore.components import uris
from mlstore.errors import InvalidArgument, NotFound

#: Strings read as "missing" in numeric columns (in string columns only "" is missing).
MISSING_TOKENS = frozenset({"", "nan", "NaN", "NA", "null", "NULL", "None"})


@dataclass(frozen=True, order=True)
class MalformedRow:
    """One bad value: where it is and why it was rejected."""

    path: str
    row: int
    column: str
    value: str
    reason: str

    def describe(self) -> str:
        """Human-readable one-liner used in error messages."""
        return f"{self.path} row {self.row} column {self.column!r}: {self.reason} (value {self.value!r})"


@dataclass(frozen=True)
class ParsedBatch:
    """Clean rows of one input chunk plus the malformed rows found in it."""

    columns: dict[str, np.ndarray]
    num_rows: int
    malformed: tuple[MalformedRow, ...]
    num_malformed_rows: int
    #: (file, first row): where the batch came from, the same on every runner.
    source: tuple[str, int] = ("", 0)


def file_format(path: str) -> str:
    """Return "csv" or "parquet" from the file extension.

    Raises:
        InvalidArgument: unknown extension.
    """
    lower = path.lower()
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    raise InvalidArgument(f"{path}: input files must be .csv, .csv.gz or .parquet")


def read_batches(path: str, dtypes: Mapping[str, str], defaults: Mapping[str, object],
                 batch_size: int = 4096) -> Iterator[ParsedBatch]:
    """Yield parsed batches of the given columns of one file.

    Args:
        path: a CSV or Parquet file: a local path or URI (:mod:`mlstore.components.uris`).
        dtypes: column name -> "float" | "int" | "string".
        defaults: column name -> default for missing values (absent = required).
        batch_size: rows per batch.

    Raises:
        NotFound: the file does not exist.
        InvalidArgument: unsupported file type.
    """
    if not uris.exists(path):
        raise NotFound(f"input file {path!r} does not exist")
    first_row = 1
    for frame in _read_frames(path, list(dtypes), batch_size):
        yield parse_frame(frame, path, first_row, dtypes, defaults)
        first_row += len(frame)


def _read_frames(path: str, columns: list[str], batch_size: int) -> Iterator[pd.DataFrame]:
    with uris.open_input(path) as fh:
        if file_format(path) == "csv":
            header = pd.read_csv(fh, nrows=0).columns
            fh.seek(0)
            present = [c for c in columns if c in header]
            # dtype=str + keep_default_na=False: we parse values ourselves so that a bad
            # value is reported instead of silently turning the column into NaN/object.
            reader = pd.read_csv(fh, usecols=present, dtype=str, keep_default_na=False,
                                 chunksize=batch_size)
            for chunk in reader:
                yield chunk.reindex(columns=[c for c in columns if c in present])
            return
        pfile = pq.ParquetFile(fh)
        present = [c for c in columns if c in pfile.schema_arrow.names]
        for batch in pfile.iter_batches(batch_size=batch_size, columns=present):
            yield batch.to_pandas()


def parse_frame(frame: pd.DataFrame, path: str, first_row: int, dtypes: Mapping[str, str],
                defaults: Mapping[str, object]) -> ParsedBatch:
    """Parse one raw frame; rows with any bad value are left out of ``columns``."""
    n = len(frame)
    bad = np.zeros(n, dtype=bool)
    problems: list[MalformedRow] = []
    parsed: dict[str, np.ndarray] = {}
    rows = np.arange(first_row, first_row + n)
    for name, dtype in dtypes.items():
        if name not in frame.columns:
            if name in defaults:
                parsed[name] = _constant(defaults[name], dtype, n)
                continue
            problems.extend(MalformedRow(path, int(r), name, "", "column missing from file") for r in rows[:3])
            bad[:] = True
            parsed[name] = _constant("" if dtype == "string" else 0.0, dtype, n)
            continue
        values, col_bad, reasons = _parse_column(frame[name], dtype, defaults.get(name))
        parsed[name] = values
        for i in np.flatnonzero(col_bad)[:3]:
            problems.append(MalformedRow(path, int(rows[i]), name, _text(frame[name].iloc[i]), reasons[i]))
        bad |= col_bad
    keep = ~bad
    columns = {k: v[keep] for k, v in parsed.items()}
    return ParsedBatch(columns=columns, num_rows=int(keep.sum()), malformed=tuple(sorted(problems)),
                       num_malformed_rows=int(bad.sum()), source=(path, first_row))


def _constant(value: object, dtype: str, n: int) -> np.ndarray:
    if dtype == "string":
        return np.full(n, str(value), dtype=object)
    return np.full(n, np.float64(np.float32(value)), dtype=np.float64)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _parse_column(series: pd.Series, dtype: str, default: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (values, bad mask, reason per row)."""
    if dtype == "string":
        return _parse_strings(series, default)
    return _parse_numbers(series, dtype, default)


def _parse_strings(series: pd.Series, default: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
    raw = series.to_numpy(dtype=object, na_value=None)
    missing = np.array([v is None or v == "" for v in raw], dtype=bool)
    values = np.array(["" if v is None else str(v) for v in raw], dtype=object)
    reasons = ["missing value in required column"] * len(raw)
    if default is not None:
        values[missing] = default
        return values, np.zeros(len(raw), dtype=bool), reasons
    return values, missing, reasons


def _parse_numbers(series: pd.Series, dtype: str, default: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
    n = len(series)
    reasons = [""] * n
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        unparseable = np.zeros(n, dtype=bool)
    else:
        text = series.to_numpy(dtype=object, na_value=None)
        stripped = np.array(["" if v is None else str(v).strip() for v in text], dtype=object)
        missing = np.array([s in MISSING_TOKENS for s in stripped], dtype=bool)
        numbers = pd.to_numeric(pd.Series(stripped), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        unparseable = np.isnan(numbers) & ~missing
    bad = unparseable.copy()
    for i in np.flatnonzero(unparseable):
        reasons[i] = f"not a number (expected {dtype})"
    nonfinite = np.isinf(numbers)
    for i in np.flatnonzero(nonfinite):
        reasons[i] = "not a finite number"
    bad |= nonfinite
    if dtype == "int":
        ok = ~(missing | bad)
        frac = np.zeros(n, dtype=bool)
        frac[ok] = numbers[ok] != np.round(numbers[ok])
        for i in np.flatnonzero(frac):
            reasons[i] = "not an integer"
        bad |= frac
    if default is not None:
        numbers = np.where(missing, float(default), numbers)
    else:
        for i in np.flatnonzero(missing):
            reasons[i] = "missing value in required column"
        bad |= missing
    with np.errstate(invalid="ignore", over="ignore"):
        values = numbers.astype(np.float32).astype(np.float64)
    return values, bad, reasons
