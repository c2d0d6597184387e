"""Index tables of garbage collection (migration 0002).

``mlstore_gc_intent`` makes deleting an artifact crash-safe. Marking an artifact
DELETED touches two stores (MLMD, then the index), so gc first records its intent here,
then updates MLMD, then updates the index row and removes the intent in one index
transaction. A gc killed in between leaves intents that the next gc rolls forward.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from mlstore.index.tables import metadata

gc_intent = Table(
    "mlstore_gc_intent",
    metadata,
    Column("artifact_id", BigInteger, primary_key=True, autoincrement=False),
    Column("digest", String(71)),
    Column("reason", String(255), nullable=False),  # why it is reclaimed, for the report
    Column("created_ms", BigInteger, nullable=False),
)
