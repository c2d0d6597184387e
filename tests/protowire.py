"""A minimal protobuf wire-format reader, for the TFX/TFMA files of the real-TFX tests.

mlstore's venv has neither TFMA nor tensorflow_metadata, and the tests must read what
TFX wrote with what mlstore's users have, so the few messages they need are decoded by
field number (layouts in ``tests/tfx/RECORDS.md``).
"""

from __future__ import annotations

import struct
from collections import defaultdict


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> dict[int, list]:
    """{field number: [values]}: varints as int, fixed64/fixed32 as raw bytes, length-delimited as bytes."""
    out: dict[int, list] = defaultdict(list)
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire} for field {number}")
        out[number].append(value)
    return out


def double(raw: bytes) -> float:
    return struct.unpack("<d", raw)[0]


def double_wrapper(data: bytes) -> float:
    """google.protobuf.DoubleValue: field 1, a fixed64 double; empty means 0.0."""
    values = fields(data).get(1)
    return double(values[0]) if values else 0.0


def text(data: bytes) -> str:
    return data.decode("utf-8")
