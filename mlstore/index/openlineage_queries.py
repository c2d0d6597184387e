"""Queries of the OpenLineage emitter's delivery record (tables in openlineage_tables.py)."""

from __future__ import annotations

import time

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from mlstore.index import tables as t
from mlstore.index.openlineage_tables import openlineage_floor, openlineage_sent
from mlstore.index.queries import to_execution
from mlstore.types import Execution


def floor(connection: Connection, destination: str) -> int | None:
    """The id below which executions are history for ``destination`` (None: never served)."""
    return connection.scalar(select(openlineage_floor.c.execution_id)
                             .where(openlineage_floor.c.destination == destination))


def set_floor(connection: Connection, destination: str, url: str, execution_id: int) -> None:
    connection.execute(insert(openlineage_floor).values(destination=destination, url=url[:1024],
                                                        execution_id=execution_id,
                                                        created_ms=int(time.time() * 1000)))


def unsent(connection: Connection, destination: str, above_id: int, limit: int) -> list[tuple[Execution, str | None]]:
    """Executions after ``above_id`` whose events ``destination`` has not acknowledged, in id order:
    ``(execution, state acknowledged)``, the state None when nothing was sent, RUNNING when
    only the START was and the execution has finished since.

    Ids, not insertion order: an execution indexed late (another writer's, a TFX run that
    finished after a later one) is still found, below the newest id already sent.
    """
    e, s = t.execution.c, openlineage_sent.c
    query = (select(t.execution, s.state.label("sent_state"))
             .outerjoin(openlineage_sent, and_(s.execution_id == e.id, s.destination == destination))
             .where(e.id > above_id)
             .where(or_(s.execution_id.is_(None), and_(s.state == "RUNNING", e.state != "RUNNING")))
             .order_by(e.id).limit(limit))
    return [(to_execution(row), row.sent_state) for row in connection.execute(query)]


def mark_sent(connection: Connection, destination: str, execution_id: int, state: str, had_row: bool) -> None:
    """Records that ``destination`` acknowledged the events of ``execution_id`` in ``state``."""
    values = {"state": state, "sent_ms": int(time.time() * 1000)}
    if had_row:
        connection.execute(update(openlineage_sent).where(openlineage_sent.c.destination == destination)
                           .where(openlineage_sent.c.execution_id == execution_id).values(**values))
    else:
        connection.execute(insert(openlineage_sent).values(destination=destination, execution_id=execution_id,
                                                           **values))
