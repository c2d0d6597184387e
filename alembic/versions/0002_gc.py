"""Garbage collection: intents that make marking artifacts DELETED crash-safe.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlstore_gc_intent",
        sa.Column("artifact_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(71), nullable=True),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("artifact_id", name="pk_mlstore_gc_intent"),
    )


def downgrade() -> None:
    op.drop_table("mlstore_gc_intent")
