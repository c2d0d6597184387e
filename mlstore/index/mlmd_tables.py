"""Read-only SQL over ML Metadata's own tables (schema version 10), for what MLMD's API
answers one record at a time.

TFX keeps an execution's pipeline, run and node only as Associations with its
``pipeline``, ``pipeline_run`` and ``node`` contexts. Through MLMD's API that is ``get_contexts_by_execution`` per execution (~50 ms
each on a 10,000-run SQLite store) or ``get_executions_by_context`` paged 100 at a time
(minutes). One join over ``Association``, ``Context`` and ``Type`` answers it for every
execution at once. Only SELECTs run here; MLMD stays the only writer of its tables.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from mlstore._uri import StoreLocation

_CONTEXT_TYPE_KIND = 2  # MLMD's Type.type_kind of context types

_CONTEXTS_OF = text(
    "SELECT a.execution_id, t.name, c.name FROM Association a JOIN Context c ON c.id = a.context_id "
    "JOIN Type t ON t.id = c.type_id WHERE t.type_kind = :kind AND t.name IN :names "
    "AND a.execution_id >= :low AND a.execution_id <= :high").bindparams(bindparam("names", expanding=True))


def mlmd_reader(location: StoreLocation, index_engine: Engine) -> Engine:
    """An engine that reads MLMD's tables: the SQLite file opened read-only, or the shared server database.

    The SQLite connection stays open for the engine's life (one connection, never closed
    while MLMD may hold locks: SQLite's POSIX locks are per process and file).
    """
    if location.mlmd_file is None:
        return index_engine
    return create_engine(f"sqlite:///file:{location.mlmd_file}?mode=ro&uri=true", poolclass=StaticPool)


def contexts_of(engine: Engine, execution_ids: Sequence[int],
                context_types: Sequence[str]) -> dict[int, dict[str, str]]:
    """Execution id -> ``{context type: context name}`` of its contexts of ``context_types``
    (TFX's ``pipeline``, ``pipeline_run``, ``node``), for ``execution_ids``."""
    if not execution_ids:
        return {}
    wanted = set(execution_ids)
    params = {"kind": _CONTEXT_TYPE_KIND, "names": list(context_types), "low": min(wanted), "high": max(wanted)}
    with engine.connect() as connection:
        rows = connection.execute(_CONTEXTS_OF, params).all()
    out: dict[int, dict[str, str]] = {}
    for execution_id, type_name, name in rows:
        if execution_id in wanted:
            out.setdefault(execution_id, {})[type_name] = name
    return out
