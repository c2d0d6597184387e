"""Index table of the OpenLineage emitter (migration 0008): which runs reached which endpoint.

``mlstore serve --openlineage-url`` sends the run events of executions as they are
indexed (:mod:`mlstore.openlineage.emitter`). A row per (destination, execution) says the
endpoint acknowledged the execution's events up to the state recorded here: a RUNNING
execution has had its START, a finished one its START and its end event. A row is
written only after the endpoint answered, so a restart re-sends at most what was in
flight (at-least-once; the run id is stable, consumers dedupe by runId + eventType).
Execution ids are MLMD's, so a ``reindex`` keeps the rows valid.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from mlstore.index.tables import metadata

openlineage_sent = Table(
    "mlstore_openlineage_sent",
    metadata,
    # sha256 prefix of the destination URL + namespace (see emitter.destination_key).
    Column("destination", String(32), primary_key=True),
    Column("execution_id", BigInteger, primary_key=True, autoincrement=False),
    Column("state", String(24), nullable=False),  # the execution's state when its events were acknowledged
    Column("sent_ms", BigInteger, nullable=False),
)

openlineage_floor = Table(
    "mlstore_openlineage_floor",
    metadata,
    # Executions with ids up to `execution_id` existed before the destination was first
    # served: they are history (`mlstore openlineage export`), never emitted live.
    Column("destination", String(32), primary_key=True),
    Column("url", String(1024), nullable=False),
    Column("execution_id", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)
