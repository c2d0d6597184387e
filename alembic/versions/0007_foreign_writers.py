"""Index what other MLMD writers (TFX) record: a sync position and fingerprints of their bytes.

``mlstore_sync_state`` keeps how far the index has read MLMD's executions by their
last-update time, so executions written by any MLMD client are picked up;
``mlstore_fingerprint`` keeps the manifest digest of artifacts mlstore did not write.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlstore_sync_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_mlstore_sync_state"),
    )
    op.create_table(
        "mlstore_fingerprint",
        sa.Column("artifact_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("artifact_id", name="pk_mlstore_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("mlstore_fingerprint")
    op.drop_table("mlstore_sync_state")
