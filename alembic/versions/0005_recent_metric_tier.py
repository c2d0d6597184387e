"""New metric rows go to a small ``mlstore_metric_recent`` table, folded into the series index in bulk.

Indexing a day's 200 metric rows one day at a time rewrites ~200 scattered leaf pages
of any index ordered by series (about 4 ms of a day's logging at 10,000 days on
SQLite). The recent tier has no series index; rows move from it to ``mlstore_metric``
a few thousand at a time (see mlstore/index/metric_tiers.py). Folded in bulk, a
span-ordered index takes each series' new rows on the last page of its range, so
the value-ordered index of 0004 gives way to the span-ordered one of 0003: "best on a
slice" reads the same covering range and sorts it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SERIES = ["pipeline", "metric", "slice", "span", "model_id", "evaluation_id", "value"]
_RANKED = ["pipeline", "metric", "slice", "value", "span", "model_id", "evaluation_id"]
#: As in mlstore/index/tables.py: SQLite keeps the declared FLOAT of 0001 (REAL either way).
_DOUBLE = sa.Double().with_variant(sa.Float(), "sqlite")
_COLUMNS = "evaluation_id, slice, metric, model_id, pipeline, span, value"


def upgrade() -> None:
    op.create_table(
        "mlstore_metric_recent",
        sa.Column("evaluation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slice", sa.String(255), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=True),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("span", sa.BigInteger(), nullable=True),
        sa.Column("value", _DOUBLE, nullable=True),
        sa.PrimaryKeyConstraint("evaluation_id", "slice", "metric", name="pk_mlstore_metric_recent"),
        sqlite_with_rowid=False,
    )
    op.drop_index("ix_mlstore_metric_ranked", table_name="mlstore_metric")
    _set_value_type(sa.Double())
    op.create_index("ix_mlstore_metric_series", "mlstore_metric", _SERIES)


def downgrade() -> None:
    op.execute(f"INSERT INTO mlstore_metric ({_COLUMNS}) SELECT {_COLUMNS} FROM mlstore_metric_recent")
    op.drop_table("mlstore_metric_recent")
    op.drop_index("ix_mlstore_metric_series", table_name="mlstore_metric")
    _set_value_type(sa.Float())
    op.create_index("ix_mlstore_metric_ranked", "mlstore_metric", _RANKED)


def _set_value_type(type_) -> None:
    """Metric values as DOUBLE: MySQL's FLOAT (0001) is single precision (0.67 came back
    for 0.6699999999999999). SQLite stores REAL either way; PostgreSQL's FLOAT is double."""
    if op.get_bind().dialect.name == "mysql":
        op.alter_column("mlstore_metric", "value", type_=type_, existing_nullable=True)
