"""``mlstore_store_source``: which ML Metadata database the index derives from.

One row per store: a fingerprint of MLMD's own first execution (its id, external id
and creation time), recorded once MLMD has one. Opening a store whose MLMD is
missing, empty or another database is then an error instead of a silent empty store
(see mlstore/index/source.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlstore_store_source",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_mlstore_store_source"),
    )


def downgrade() -> None:
    op.drop_table("mlstore_store_source")
