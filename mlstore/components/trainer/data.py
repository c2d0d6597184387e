"""Load training rows: raw features + label from CSV/Parquet, then apply the transform graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlstore.components.transform.graph import TransformGraph
from mlstore.components.transform.rawio import MalformedRow, read_batches
from mlstore.errors import DataError, InvalidArgument

_COMPARISONS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
                "==": np.equal}


@dataclass(frozen=True)
class LabelSpec:
    """Binary label = ``column <comparison> threshold`` (demo: arr_delay > 15).

    Rows whose label column is missing are dropped and counted.
    """

    column: str = "arr_delay"
    comparison: str = ">"
    threshold: float = 15.0

    def __post_init__(self):
        if self.comparison not in _COMPARISONS:
            raise InvalidArgument(f"label comparison must be one of {sorted(_COMPARISONS)}")

    def apply(self, values: np.ndarray) -> np.ndarray:
        """0/1 float32 labels from label-column values (no NaN expected)."""
        return _COMPARISONS[self.comparison](values, self.threshold).astype(np.float32)


@dataclass(frozen=True)
class RawData:
    """Raw columns of the usable rows, their labels, and what was left out."""

    columns: dict[str, np.ndarray]
    labels: np.ndarray
    num_missing_label: int
    num_malformed: int
    malformed_examples: tuple[MalformedRow, ...]


def load_raw(graph: TransformGraph, paths: Sequence[str], label: LabelSpec, *,
             drop_malformed: bool = False) -> RawData:
    """Read raw feature columns and the label column of all files.

    Raises:
        DataError: malformed rows (unless ``drop_malformed``) or no usable rows.
    """
    spec = graph.spec
    if label.column in {c.name for c in spec.raw_columns}:
        raise InvalidArgument(f"label column {label.column!r} must not be a transform input")
    dtypes = {c.name: c.dtype for c in spec.raw_columns} | {label.column: "float"}
    # NaN default: a missing label is not malformed, it is counted and dropped below.
    defaults = {c.name: c.default for c in spec.raw_columns if c.default is not None}
    defaults[label.column] = float("nan")
    parts, malformed, examples = [], 0, []
    for path in paths:
        for batch in read_batches(path, dtypes, defaults):
            parts.append(batch.columns)
            malformed += batch.num_malformed_rows
            examples.extend(batch.malformed)
    if malformed and not drop_malformed:
        first = "; ".join(m.describe() for m in sorted(examples)[:5])
        raise DataError(f"{malformed} malformed training row(s); first: {first}")
    columns = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in dtypes}
    label_values = columns.pop(label.column)
    has_label = ~np.isnan(label_values)
    if not has_label.any():
        raise DataError("no training rows with a label")
    return RawData(columns={k: v[has_label] for k, v in columns.items()},
                   labels=label.apply(label_values[has_label]),
                   num_missing_label=int((~has_label).sum()), num_malformed=malformed,
                   malformed_examples=tuple(sorted(examples)[:10]))


def transform_rows(graph: TransformGraph, columns: dict[str, np.ndarray], names: Sequence[str],
                   chunk: int = 8192) -> dict[str, np.ndarray]:
    """Apply the transform graph in chunks; id lists are padded with -1 to a common width."""
    n = len(next(iter(columns.values())))
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for start in range(0, n, chunk):
        out = graph.transform({k: v[start:start + chunk] for k, v in columns.items()})
        for k in names:
            pieces[k].append(out[k].numpy())
    return {k: _concat_padded(v) for k, v in pieces.items()}


def _concat_padded(arrays: list[np.ndarray]) -> np.ndarray:
    if arrays[0].ndim == 1:
        return np.concatenate(arrays)
    width = max(a.shape[1] for a in arrays)
    return np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=-1) for a in arrays])
