"""The index: SQLAlchemy tables derived from MLMD, for what must be fast.

MLMD stays the system of record; every row here can be rebuilt from it
(``mlstore reindex``). Tables are prefixed ``mlstore_`` so they can share a database
with MLMD's own tables. Lineage edges carry *node keys* (see :func:`node_key`) so a
single recursive query can walk artifact→execution→artifact chains.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ARTIFACT_KIND = 0
EXECUTION_KIND = 1


def node_key(kind: int, node_id: int) -> int:
    """One integer per lineage node: ``2*id`` for artifacts, ``2*id + 1`` for executions."""
    return 2 * node_id + kind


def split_node_key(key: int) -> tuple[int, int]:
    """Inverse of :func:`node_key`: ``(kind, id)``."""
    return key % 2, key // 2


artifact = Table(
    "mlstore_artifact",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("node", BigInteger, nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("name", String(255)),
    Column("uri", Text),
    Column("digest", String(71)),
    Column("size", BigInteger),
    Column("state", String(24), nullable=False),
    Column("pipeline", String(255)),
    Column("span", BigInteger),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("properties", Text, nullable=False),  # JSON
    # The long string properties (an evaluation's metrics JSON), as zlib-compressed JSON:
    # no query reads them in SQL (see writer.split_properties, migration 0010).
    Column("packed", LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")),  # MySQL's BLOB stops at 64 kB
    Index(None, "digest"),
    Index(None, "type", "pipeline", "span"),
    Index(None, "state"),
)

execution = Table(
    "mlstore_execution",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("node", BigInteger, nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("pipeline", String(255)),
    Column("state", String(24), nullable=False),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("cache_key", String(71)),
    Column("properties", Text, nullable=False),  # JSON
    Index(None, "pipeline", "type"),
    Index(None, "cache_key"),
)

event = Table(
    "mlstore_event",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("execution_id", BigInteger, nullable=False),
    Column("artifact_id", BigInteger, nullable=False),
    Column("is_output", Boolean, nullable=False),
    Column("role", String(64), nullable=False),
    Column("src", BigInteger, nullable=False),  # node key of the edge's source
    Column("dst", BigInteger, nullable=False),  # node key of the edge's target
    UniqueConstraint("execution_id", "artifact_id", "is_output", "role"),
    Index(None, "src"),
    Index(None, "dst"),
    Index(None, "artifact_id"),
)

def exact_string(length: int) -> String:
    """VARCHAR compared byte for byte: MariaDB's default collation would make "AUC" and
    "auc" one series (and so the dictionary's unique key refuse one of them)."""
    return String(length).with_variant(mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql")


#: Metric rows, in two tiers (see ``metric_tiers.py``). What they keep and why: one row
#: per (evaluation, slice, metric) with the few columns the metric queries read (the
#: model, its span, the value), names as a small integer: ``series_id`` names the
#: (pipeline, metric, slice) of the row in :data:`metric_series`, a dictionary of a few
#: hundred rows per pipeline. The same values are in MLMD (the evaluation's ``metrics``
#: property or TFMA files); the index keeps them to read a series without parsing JSON.
#: Migration 0009 (alembic/versions) says what this replaced and what it saves.
metric_series = Table(
    "mlstore_metric_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", exact_string(255), nullable=False),  # "" for an evaluation outside any pipeline
    Column("metric", exact_string(64), nullable=False),
    Column("slice", exact_string(255), nullable=False),
    UniqueConstraint("pipeline", "metric", "slice"),
)


def _metric_columns(*key: str) -> list[Column]:
    """The columns shared by the two tiers, with the primary key ``key`` (in that order)."""
    keys = {
        "series_id": Column("series_id", Integer, primary_key=True, autoincrement=False),
        "evaluation_id": Column("evaluation_id", BigInteger, primary_key=True, autoincrement=False),
    }
    return [keys[name] for name in key] + [
        Column("model_id", BigInteger),
        Column("span", BigInteger),
        Column("value", Double),
    ]


#: Folded metric rows: the table is its own series index (a clustered primary key,
#: WITHOUT ROWID on SQLite, InnoDB's clustered key on MariaDB; PostgreSQL keeps a heap
#: beside the key): a series is one range,
#: in evaluation order, holding every column its readers select.
metric = Table("mlstore_metric_value", metadata, *_metric_columns("series_id", "evaluation_id"),
               sqlite_with_rowid=False)

#: The newest metric rows, keyed by evaluation first: a day's rows share a few pages.
metric_recent = Table("mlstore_metric_value_recent", metadata, *_metric_columns("evaluation_id", "series_id"),
                      sqlite_with_rowid=False)

#: The order :func:`metric_tiers.fold` inserts folded rows in (the primary key's).
SERIES_INDEX_COLUMNS = ("series_id", "evaluation_id")

blessing = Table(
    "mlstore_blessing",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", BigInteger, nullable=False),
    Column("baseline_id", BigInteger),
    Column("evaluation_id", BigInteger),
    Column("pipeline", String(255)),
    Column("blessed", Boolean, nullable=False),
    Column("span", BigInteger),
    Column("create_time_ms", BigInteger, nullable=False),
    Index(None, "pipeline", "blessed", "span", "model_id"),
    Index(None, "model_id"),
)

journal = Table(
    "mlstore_journal",
    metadata,
    # An MLMD write in flight: the execution's external_id, written before the MLMD
    # transaction and removed once the index has the execution (see writer.py).
    Column("external_id", String(64), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
)

sync_state = Table(
    "mlstore_sync_state",
    metadata,
    # Named positions of the index in MLMD, e.g. "mlmd_updated_ms": every execution MLMD
    # changed before it (minus a margin) is indexed, whoever wrote it (see sync.py).
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

fingerprint = Table(
    "mlstore_fingerprint",
    metadata,
    # The manifest digest of an artifact whose bytes mlstore did not write (TFX's),
    # taken when first indexed; MLMD's record of it is never touched. `verify` re-hashes.
    Column("artifact_id", BigInteger, primary_key=True, autoincrement=False),
    Column("digest", String(71), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("files", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

store_source = Table(
    "mlstore_store_source",
    metadata,
    # Which MLMD database the index derives from (migration 0006, mlstore/index/source.py).
    Column("key", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("description", String(255), nullable=False),
    Column("recorded_ms", BigInteger, nullable=False),
)

from mlstore.index import gc_tables as _gc_tables  # noqa: E402,F401 - registers gc tables on `metadata`
from mlstore.index import openlineage_tables as _openlineage_tables  # noqa: E402,F401 - the emitter's tables
