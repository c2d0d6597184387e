"""The on-disk formats, as TFX 1.16 lays its artifacts out (so TFX's and TFDV's readers parse them).

* ExampleStatistics: ``Split-<name>/FeatureStats.pb``, a binary ``DatasetFeatureStatisticsList``
  holding one dataset per file.
* Schema: ``schema.pbtxt``, a text-format ``Schema``.
* ExampleAnomalies: ``Split-<name>/SchemaDiff.pb``, a binary ``Anomalies``.
"""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import message, text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from mlstore.errors import DataError, InvalidArgument, NotFound

STATISTICS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "SchemaDiff.pb"
_SPLIT_PREFIX = "Split-"


def split_dir(root: str | Path, split: str) -> Path:
    """``<root>/Split-<split>``.

    Raises:
        InvalidArgument: the split name is empty or would leave ``root``.
    """
    if not split or "/" in split or split in (".", ".."):
        raise InvalidArgument(f"bad split name {split!r}")
    return Path(root) / f"{_SPLIT_PREFIX}{split}"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a file


def write_split_statistics(root: str | Path, split: str, dataset: statistics_pb2.DatasetFeatureStatistics) -> Path:
    """Writes one split's statistics to ``Split-<split>/FeatureStats.pb``."""
    listing = statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])
    path = split_dir(root, split) / STATISTICS_FILE
    _write_atomic(path, listing.SerializeToString(deterministic=True))
    return path


def _splits(root: str | Path, filename: str, what: str) -> dict[str, Path]:
    root = Path(root)
    if not root.is_dir():
        raise NotFound(f"{what} directory {root} does not exist")
    found = {p.parent.name[len(_SPLIT_PREFIX):]: p for p in sorted(root.glob(f"{_SPLIT_PREFIX}*/{filename}"))}
    if not found:
        raise DataError(f"{root} holds no {_SPLIT_PREFIX}<name>/{filename}: not {what} in TFX's layout")
    return found


def _parse(cls, path: Path):
    proto = cls()
    try:
        proto.ParseFromString(path.read_bytes())
    except message.DecodeError as exc:
        raise DataError(f"{path} is not a {cls.DESCRIPTOR.name} proto: {exc}") from None
    return proto


def read_statistics(root: str | Path) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Every split's statistics in an ExampleStatistics directory, by split name.

    Raises:
        NotFound: no directory. DataError: no ``Split-*/FeatureStats.pb``, or one that does not parse
            or holds other than one dataset.
    """
    out = {}
    for split, path in _splits(root, STATISTICS_FILE, "ExampleStatistics").items():
        listing = _parse(statistics_pb2.DatasetFeatureStatisticsList, path)
        if len(listing.datasets) != 1:
            raise DataError(f"{path} holds {len(listing.datasets)} datasets; expected 1")
        out[split] = listing.datasets[0]
    return out


def write_schema(root: str | Path, schema: schema_pb2.Schema) -> Path:
    """Writes ``schema.pbtxt``."""
    path = Path(root) / SCHEMA_FILE
    _write_atomic(path, text_format.MessageToString(schema).encode("utf-8"))
    return path


def parse_schema_text(text: str, where: str = "schema") -> schema_pb2.Schema:
    """A ``Schema`` from its text format.

    Raises:
        DataError: not a text-format Schema.
    """
    try:
        return text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise DataError(f"{where} is not a text-format Schema: {exc}") from None


def read_schema(root: str | Path) -> schema_pb2.Schema:
    """The ``Schema`` of a Schema directory (or of the ``schema.pbtxt`` file itself).

    Raises:
        NotFound: no ``schema.pbtxt``. DataError: it does not parse.
    """
    path = Path(root)
    path = path if path.is_file() else path / SCHEMA_FILE
    if not path.is_file():
        raise NotFound(f"no {SCHEMA_FILE} at {root}")
    return parse_schema_text(path.read_text(encoding="utf-8"), str(path))


def write_split_anomalies(root: str | Path, split: str, anomalies: anomalies_pb2.Anomalies) -> Path:
    """Writes one split's anomalies to ``Split-<split>/SchemaDiff.pb``."""
    path = split_dir(root, split) / ANOMALIES_FILE
    _write_atomic(path, anomalies.SerializeToString(deterministic=True))
    return path


def read_anomalies(root: str | Path) -> dict[str, anomalies_pb2.Anomalies]:
    """Every split's anomalies in an ExampleAnomalies directory, by split name.

    Raises:
        NotFound: no directory. DataError: no ``Split-*/SchemaDiff.pb`` or one that does not parse.
    """
    return {split: _parse(anomalies_pb2.Anomalies, path)
            for split, path in _splits(root, ANOMALIES_FILE, "ExampleAnomalies").items()}
