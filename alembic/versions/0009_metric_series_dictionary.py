"""Metric rows keyed by a series dictionary, each tier its own (clustered) index.

What 0005 kept per metric row, at 10,000 days (2 million rows, SQLite): the pipeline,
slice and metric names as text in the table, again in its primary-key index
(evaluation, slice, metric) and again in the series index (pipeline, metric, slice,
span, model, evaluation, value), plus an index on the model: four B-trees, about
140 bytes a row, 72% of the index file. Now a row is (series id, evaluation id,
model id, span, value), about 30 bytes, in one B-tree per tier:

* ``mlstore_metric_series``: one entry per (pipeline, metric, slice), a few hundred
  per pipeline; rows name it by a small integer.
* ``mlstore_metric_value`` (the folded tier): primary key (series, evaluation),
  WITHOUT ROWID on SQLite and InnoDB's clustered key on MariaDB, so the table is the
  series index and covers every metric query (a series is one range; "best on a
  slice" sorts that range, as it did).
* ``mlstore_metric_value_recent``: the same columns keyed (evaluation, series), so a
  day's rows share a few pages.

Dropped: the index on the model (its one reader, the warm start's latest evaluation per
model, scans the series' range instead) and the lookup by evaluation (a seek per series
of the dictionary instead). The values are also in MLMD; the index keeps them to read a
series without parsing every evaluation's JSON.

SQLite does not return the freed pages to the file system by itself: ``mlstore db
upgrade`` runs ``VACUUM`` after this migration (``vacuum_after``, mlstore/index/migrate.py).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
#: Rewrites most of the index: `mlstore db upgrade` runs VACUUM on SQLite after it (migrate.py).
vacuum_after = True

_OLD = ("mlstore_metric", "mlstore_metric_recent")
_NEW = ("mlstore_metric_value", "mlstore_metric_value_recent")
#: 0005's series index, on the old folded table.
_SERIES = ["pipeline", "metric", "slice", "span", "model_id", "evaluation_id", "value"]
#: As in 0005: SQLite keeps the declared FLOAT of 0001 (REAL either way).
_OLD_DOUBLE = sa.Double().with_variant(sa.Float(), "sqlite")


def _exact(length: int):
    # As mlstore/index/tables.py's exact_string: byte-for-byte names on MariaDB.
    return sa.String(length).with_variant(mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql")


def _value_columns():
    return [sa.Column("model_id", sa.BigInteger(), nullable=True),
            sa.Column("span", sa.BigInteger(), nullable=True),
            sa.Column("value", sa.Double(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "mlstore_metric_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline", _exact(255), nullable=False),
        sa.Column("metric", _exact(64), nullable=False),
        sa.Column("slice", _exact(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mlstore_metric_series"),
        sa.UniqueConstraint("pipeline", "metric", "slice", name="uq_mlstore_metric_series_pipeline_metric_slice"),
    )
    op.create_table(
        "mlstore_metric_value",
        sa.Column("series_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("evaluation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *_value_columns(),
        sa.PrimaryKeyConstraint("series_id", "evaluation_id", name="pk_mlstore_metric_value"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "mlstore_metric_value_recent",
        sa.Column("evaluation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("series_id", sa.Integer(), autoincrement=False, nullable=False),
        *_value_columns(),
        sa.PrimaryKeyConstraint("evaluation_id", "series_id", name="pk_mlstore_metric_value_recent"),
        sqlite_with_rowid=False,
    )
    names = " UNION ".join(f"SELECT COALESCE(pipeline, '') AS pipeline, metric, slice FROM {old}" for old in _OLD)
    op.execute(f"INSERT INTO mlstore_metric_series (pipeline, metric, slice) "
               f"SELECT pipeline, metric, slice FROM ({names}) AS names ORDER BY pipeline, metric, slice")
    for old, new in zip(_OLD, _NEW):
        # In the new primary key's order (series, evaluation): one sequential write.
        op.execute(f"INSERT INTO {new} (series_id, evaluation_id, model_id, span, value) "
                   f"SELECT s.id, m.evaluation_id, m.model_id, m.span, m.value FROM {old} m "
                   f"JOIN mlstore_metric_series s ON s.pipeline = COALESCE(m.pipeline, '') "
                   f"AND s.metric = m.metric AND s.slice = m.slice ORDER BY s.id, m.evaluation_id")
    for old in _OLD:
        op.drop_table(old)


def downgrade() -> None:
    def old_columns():
        return [sa.Column("evaluation_id", sa.BigInteger(), autoincrement=False, nullable=False),
                sa.Column("slice", sa.String(255), nullable=False),
                sa.Column("metric", sa.String(64), nullable=False),
                sa.Column("model_id", sa.BigInteger(), nullable=True),
                sa.Column("pipeline", sa.String(255), nullable=True),
                sa.Column("span", sa.BigInteger(), nullable=True),
                sa.Column("value", _OLD_DOUBLE, nullable=True)]

    op.create_table("mlstore_metric", *old_columns(),
                    sa.PrimaryKeyConstraint("evaluation_id", "slice", "metric", name="pk_mlstore_metric"))
    op.create_index("ix_mlstore_metric_series", "mlstore_metric", _SERIES)
    op.create_index("ix_mlstore_metric_model_id", "mlstore_metric", ["model_id"])
    op.create_table("mlstore_metric_recent", *old_columns(),
                    sa.PrimaryKeyConstraint("evaluation_id", "slice", "metric", name="pk_mlstore_metric_recent"),
                    sqlite_with_rowid=False)
    for old, new in zip(_OLD, _NEW):
        op.execute(f"INSERT INTO {old} (evaluation_id, slice, metric, model_id, pipeline, span, value) "
                   f"SELECT m.evaluation_id, s.slice, s.metric, m.model_id, NULLIF(s.pipeline, ''), m.span, m.value "
                   f"FROM {new} m JOIN mlstore_metric_series s ON s.id = m.series_id")
    for new in _NEW:
        op.drop_table(new)
    op.drop_table("mlstore_metric_series")
