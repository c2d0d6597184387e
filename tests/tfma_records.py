"""Reads TFMA's evaluation files (TFRecord of MetricsForSlice / ValidationResult) without TFMA.

Field numbers: ``tests/tfx/RECORDS.md`` section 7. Slice names are TFMA's own
stringification (``Overall``, ``carrier:AA``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from tests import protowire


def tfrecords(path: Path) -> list[bytes]:
    """The records of an uncompressed TFRecord file (length, crc, data, crc; crcs not checked)."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (size,) = struct.unpack("<Q", data[pos:pos + 8])
        out.append(data[pos + 12:pos + 12 + size])
        pos += 12 + size + 4
    return out


@dataclass(frozen=True)
class MetricKey:
    name: str
    model_name: str
    is_diff: bool
    example_weighted: bool | None  # None: the key has no example_weighted field


def slice_name(slice_key: bytes) -> str:
    parts = []
    for single in protowire.fields(slice_key).get(1, []):
        f = protowire.fields(single)
        column = protowire.text(f[1][0])
        if 2 in f:
            value = protowire.text(f[2][0])
        elif 3 in f:
            value = str(struct.unpack("<f", f[3][0])[0])
        else:
            value = str(f[4][0])
        parts.append((column, value))
    if not parts:
        return "Overall"
    return "_X_".join(c for c, _ in parts) + ":" + "_X_".join(v for _, v in parts)


def metric_key(data: bytes) -> MetricKey:
    f = protowire.fields(data)
    weighted = None
    if 7 in f:
        weighted = bool(protowire.fields(f[7][0]).get(1, [0])[0])
    return MetricKey(protowire.text(f[1][0]) if 1 in f else "",
                     protowire.text(f[4][0]) if 4 in f else "",
                     bool(f.get(5, [0])[0]), weighted)


def metrics(path: Path) -> dict[str, dict[MetricKey, float]]:
    """{slice name: {MetricKey: value}} of a ``metrics-*.tfrecord`` (double values only)."""
    out: dict[str, dict[MetricKey, float]] = {}
    for record in tfrecords(path):
        f = protowire.fields(record)
        name = slice_name(f[1][0]) if 1 in f else "Overall"
        values = out.setdefault(name, {})
        for pair in f.get(51, []):
            kv = protowire.fields(pair)
            value = protowire.fields(kv[2][0])
            if 1 in value:
                values[metric_key(kv[1][0])] = protowire.double_wrapper(value[1][0])
    return out


def validation(path: Path) -> tuple[bool, list[tuple[str, MetricKey]]]:
    """(validation_ok, [(slice name, failing MetricKey)]) of a ``validations.tfrecord``."""
    (record,) = tfrecords(path)
    f = protowire.fields(record)
    failures = []
    for per_slice in f.get(2, []):
        s = protowire.fields(per_slice)
        name = slice_name(s[2][0]) if 2 in s else "Overall"
        for failure in s.get(3, []):
            failures.append((name, metric_key(protowire.fields(failure)[1][0])))
    return bool(f.get(1, [0])[0]), failures
