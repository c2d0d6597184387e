"""Evaluation inputs: the label rule, reading CSV/Parquet/TFRecord in batches, model features.

Kept free of Beam so the same code serves the Beam pipeline and plain NumPy callers.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from mlstore.components import tf_examples, uris
from mlstore.errors import DataError, InvalidArgument, NotFound

from .slicing import SliceSpec

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "!=": operator.ne}
_RULE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(-?[\d.eE+-]+)\s*$")


@dataclass(frozen=True)
class LabelSpec:
    """How to get a 0/1 label from a column.

    With ``op``/``threshold`` the label is ``column <op> threshold`` (e.g.
    ``arr_delay > 15``); without, the column must already hold 0/1 (or booleans).
    Rows whose label column is missing (NaN/empty) are dropped and counted.
    """

    column: str
    op: str | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if (self.op is None) != (self.threshold is None):
            raise InvalidArgument("label spec needs both op and threshold, or neither")
        if self.op is not None and self.op not in _OPS:
            raise InvalidArgument(f"label op must be one of {sorted(_OPS)}, got {self.op!r}")

    @classmethod
    def parse(cls, rule: str) -> "LabelSpec":
        """Parse ``"arr_delay > 15"`` or a bare column name ``"is_late"``.

        Raises:
            InvalidArgument: the rule is not ``column [op number]``.
        """
        if re.fullmatch(r"\s*[A-Za-z_][\w.]*\s*", rule):
            return cls(rule.strip())
        m = _RULE.match(rule)
        if not m:
            raise InvalidArgument(f"bad label rule {rule!r}: expected 'column' or 'column > number'")
        try:
            return cls(m.group(1), m.group(2), float(m.group(3)))
        except ValueError as exc:
            raise InvalidArgument(f"bad label rule {rule!r}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "op": self.op, "threshold": self.threshold}

    def labels(self, batch: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(labels, keep)``: 0/1 float labels of kept rows and the keep mask.

        Raises:
            DataError: the label column is missing, non-numeric, or (without a rule)
                holds values other than 0/1.
        """
        if self.column not in batch.columns:
            raise DataError(f"label column {self.column!r} is not in the evaluation data")
        try:
            values = pd.to_numeric(batch[self.column], errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"label column {self.column!r} is not numeric") from exc
        keep = ~np.isnan(values)
        kept = values[keep]
        if self.op is None:
            if not np.isin(kept, (0.0, 1.0)).all():
                raise DataError(f"label column {self.column!r} must hold 0/1 (or give a threshold rule)")
            return kept, keep
        return _OPS[self.op](kept, self.threshold).astype(np.float64), keep


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate.

    Attributes:
        label: the label rule (``LabelSpec.parse("arr_delay > 15")``).
        slicing_specs: slices to compute; Overall is always added.
        example_weight_column: optional non-negative weight column.
        prediction_column: use this column as P(label=1) instead of running a model
            (for precomputed predictions, tests and benchmarks).
        batch_size: rows per batch (one model call per batch).
    """

    label: LabelSpec
    slicing_specs: tuple[SliceSpec, ...] = ()
    example_weight_column: str | None = None
    prediction_column: str | None = None
    batch_size: int = 50_000

    def all_specs(self) -> tuple[SliceSpec, ...]:
        """Slicing specs with Overall first and duplicates removed."""
        specs = [SliceSpec()] + [s for s in self.slicing_specs if not s.is_overall]
        return tuple(dict.fromkeys(specs))


def data_format(path: str) -> str:
    """``"parquet"``, ``"csv"`` or ``"tfrecord"`` (TFX's tf.Example files) from the file name.

    Raises:
        InvalidArgument: any other extension.
    """
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    if tf_examples.is_tfrecord(path):
        return "tfrecord"
    raise InvalidArgument(f"unsupported data file {path!r}: use .csv, .parquet or tf.Example TFRecords")


def column_names(path: str) -> list[str]:
    """Column names of a CSV/Parquet file (a local path or URI) without reading its rows.

    Raises:
        NotFound: the file does not exist.
    """
    if not uris.exists(path):
        raise NotFound(f"evaluation data file not found: {path}")
    if data_format(path) == "tfrecord":
        return tf_examples.column_names(path)
    with uris.open_input(path) as fh:
        if data_format(path) == "parquet":
            import pyarrow.parquet as pq
            return list(pq.read_schema(fh).names)
        return list(pd.read_csv(fh, nrows=0).columns)


def read_batches(path: str, batch_size: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """Yield the rows of one file (a local path or URI, :mod:`mlstore.components.uris`) as
    DataFrames of at most ``batch_size`` rows."""
    if data_format(path) == "tfrecord":
        yield from tf_examples.read_batches(path, batch_size, columns)
        return
    with uris.open_input(path) as fh:
        if data_format(path) == "parquet":
            import pyarrow.parquet as pq
            for record_batch in pq.ParquetFile(fh).iter_batches(batch_size=batch_size, columns=columns):
                yield record_batch.to_pandas()
            return
        yield from pd.read_csv(fh, chunksize=batch_size, usecols=columns)


def model_features(batch: pd.DataFrame, input_dtypes: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Raw-feature arrays for the serving signature (the shared model contract).

    Args:
        batch: the rows.
        input_dtypes: signature input name -> ``"string"`` or a NumPy float dtype name.

    Returns:
        name -> 1-D array: strings with ``""`` for missing, floats with NaN for missing.

    Raises:
        DataError: a model input is not a column, or a numeric input holds text.
    """
    features = {}
    for name, dtype in input_dtypes.items():
        if name not in batch.columns:
            raise DataError(f"model input {name!r} is not a column of the evaluation data")
        col = batch[name]
        if dtype == "string":
            features[name] = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
        else:
            try:
                features[name] = pd.to_numeric(col, errors="raise").to_numpy(dtype=dtype, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise DataError(f"model input {name!r} expects numbers; column has text") from exc
    return features


def example_weights(batch: pd.DataFrame, column: str | None) -> np.ndarray:
    """Weights of the rows (all 1 without a weight column).

    Raises:
        DataError: the column is missing, or holds missing/negative/non-numeric values.
    """
    if column is None:
        return np.ones(len(batch), dtype=np.float64)
    if column not in batch.columns:
        raise DataError(f"example weight column {column!r} is not in the evaluation data")
    try:
        w = pd.to_numeric(batch[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"example weight column {column!r} is not numeric") from exc
    if np.isnan(w).any() or (w < 0).any():
        raise DataError(f"example weight column {column!r} has missing or negative weights")
    return w


def check_predictions(p: np.ndarray, source: str) -> np.ndarray:
    """Flatten predictions to float64 and require finite values in [0, 1].

    Raises:
        DataError: a prediction is NaN or outside [0, 1].
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise DataError(f"{source} produced predictions outside [0, 1] or NaN")
    return p
