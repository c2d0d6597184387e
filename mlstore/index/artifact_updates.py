"""Changes to recorded artifacts: written to MLMD (the system of record), then mirrored into the index.

Used by pins (custom properties gc reads from the index at once).
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from mlstore._mlmd import Metadata
from mlstore.index import tables as t
from mlstore.index.writer import properties_of, split_properties

__all__ = ["set_custom_properties"]


def set_custom_properties(metadata: Metadata, engine: Engine, artifact_id: int,
                          values: Mapping[str, str | int | None]) -> None:
    """Sets (None: removes) custom properties of one artifact in MLMD, then in its index row."""
    [proto] = metadata.call(metadata.raw.get_artifacts_by_id, [artifact_id])
    for key, value in values.items():
        if value is None:
            if key in proto.custom_properties:
                del proto.custom_properties[key]
        elif isinstance(value, int):
            proto.custom_properties[key].int_value = value
        else:
            proto.custom_properties[key].string_value = str(value)
    metadata.call(metadata.raw.put_artifacts, [proto])
    with engine.begin() as connection:
        type_name = connection.scalar(select(t.artifact.c.type).where(t.artifact.c.id == artifact_id))
        properties, packed = split_properties(type_name or "", properties_of(proto))
        connection.execute(
            update(t.artifact).where(t.artifact.c.id == artifact_id).values(properties=properties, packed=packed))
