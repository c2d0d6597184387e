"""Blobs executions reference by digest (not artifacts): a run's package list and code files.

The SDK records ``packages_blob`` on every execution and the pipeline executor
``code_blob`` (see :mod:`mlstore.capture`). No artifact points at these blobs, so gc
must learn from here that they are still referenced.
"""

from __future__ import annotations

import json

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from mlstore.index import tables as t

#: Execution properties whose value is the digest of a blob the execution references.
RUN_BLOB_PROPERTIES = ("packages_blob", "code_blob")


def run_blob_digests(connection: Connection) -> set[str]:
    """Digests of every blob some execution references."""
    e = t.execution.c
    # A LIKE prefilter: most executions of a foreign writer (TFX) carry neither property.
    query = select(e.properties).where(or_(*(e.properties.like(f'%"{key}"%') for key in RUN_BLOB_PROPERTIES)))
    found: set[str] = set()
    for (text,) in connection.execute(query):
        properties = json.loads(text)
        found.update(str(properties[key]) for key in RUN_BLOB_PROPERTIES if properties.get(key))
    return found


def is_run_blob(connection: Connection, digest: str) -> bool:
    """Whether some execution references blob ``digest`` (gc's last check before deleting it)."""
    e = t.execution.c
    for (text,) in connection.execute(select(e.properties).where(e.properties.like(f'%"{digest}"%'))):
        properties = json.loads(text)
        if any(properties.get(key) == digest for key in RUN_BLOB_PROPERTIES):
            return True
    return False
