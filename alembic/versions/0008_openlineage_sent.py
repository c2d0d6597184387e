"""The OpenLineage emitter's delivery record: which executions each endpoint acknowledged.

See mlstore/index/openlineage_tables.py.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlstore_openlineage_sent",
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("execution_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("sent_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("destination", "execution_id", name="pk_mlstore_openlineage_sent"),
    )
    op.create_table(
        "mlstore_openlineage_floor",
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("execution_id", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("destination", name="pk_mlstore_openlineage_floor"),
    )


def downgrade() -> None:
    op.drop_table("mlstore_openlineage_floor")
    op.drop_table("mlstore_openlineage_sent")
