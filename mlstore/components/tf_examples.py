"""TFX's Examples files (``tf.train.Example`` records in TFRecord files, GZIP-compressed as
CsvExampleGen writes them) read as DataFrames, so StatisticsGen and the Evaluator read a
TFX pipeline's Examples as they read CSV.

Each feature becomes a column: ``int64_list`` -> integers, ``float_list`` -> floats,
``bytes_list`` -> UTF-8 strings; an empty list (how CsvExampleGen writes an empty cell)
or an absent feature is missing. One value per feature and example: a feature with
several values in one example is refused (``DataError``), since mlstore's statistics and
metrics are per example, not per value (TFDV's value-list statistics are not computed).
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pandas as pd

from mlstore.errors import DataError

def is_tfrecord(path: str) -> bool:
    """Whether ``path`` names a TFRecord file: ``*tfrecord*``, as CsvExampleGen names them
    (``data_tfrecord-00000-of-00001.gz``)."""
    return "tfrecord" in os.path.basename(path).lower()


def _records(path: str) -> Iterator[bytes]:
    import tensorflow as tf  # noqa: PLC0415 - heavy; only TFRecord readers pay for it

    from mlstore.components.uris import local_path  # noqa: PLC0415

    compression = "GZIP" if path.lower().endswith(".gz") else ""
    try:  # TensorFlow reads local paths and its own schemes (gs://), not file:// nor other fsspec URLs
        yield from tf.data.TFRecordDataset(local_path(path) or path, compression_type=compression).as_numpy_iterator()
    except tf.errors.OpError as e:
        raise DataError(f"{path} is not a readable TFRecord file ({e.message.splitlines()[0]})") from None


def _example(record: bytes, path: str) -> dict[str, Any]:
    from tensorflow.core.example import example_pb2  # noqa: PLC0415

    try:
        example = example_pb2.Example.FromString(record)
    except Exception:  # noqa: BLE001 - a DecodeError of whichever protobuf runtime
        raise DataError(f"{path} holds a record that is not a tf.train.Example") from None
    row: dict[str, Any] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = getattr(feature, kind).value if kind else ()
        if len(values) > 1:
            raise DataError(f"{path}: feature {name!r} has {len(values)} values in one example; "
                            f"mlstore reads one value per feature")
        if not values:
            row[name] = None
        elif kind == "bytes_list":
            row[name] = values[0].decode("utf-8", "replace")
        else:
            row[name] = values[0]
    return row


def column_names(path: str) -> list[str]:
    """Every feature name of the file, sorted (one pass over its records)."""
    names: set[str] = set()
    for record in _records(path):
        names.update(_example(record, path))
    return sorted(names)


def read_batches(path: str, batch_size: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The examples of one file as DataFrames of at most ``batch_size`` rows, every batch
    with the same columns (``columns``, default every feature of the file)."""
    names = columns if columns is not None else column_names(path)
    rows: list[dict[str, Any]] = []
    for record in _records(path):
        rows.append(_example(record, path))
        if len(rows) == batch_size:
            yield _frame(rows, names)
            rows = []
    if rows:
        yield _frame(rows, names)


def _frame(rows: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    # Why: from_records infers each column's dtype as read_csv does (ints with a missing
    # value become floats, strings stay objects), so statistics type them alike.
    frame = pd.DataFrame.from_records(rows, columns=names)
    return frame.infer_objects()
