"""Initial index tables: artifacts, executions, lineage events, metrics, blessings, journal.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlstore_artifact",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("node", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(71), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("span", sa.BigInteger(), nullable=True),
        sa.Column("create_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mlstore_artifact"),
        sa.UniqueConstraint("node", name="uq_mlstore_artifact_node"),
    )
    op.create_index("ix_mlstore_artifact_digest", "mlstore_artifact", ["digest"])
    op.create_index("ix_mlstore_artifact_type_pipeline_span", "mlstore_artifact", ["type", "pipeline", "span"])

    op.create_table(
        "mlstore_execution",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("node", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("create_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("cache_key", sa.String(71), nullable=True),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mlstore_execution"),
        sa.UniqueConstraint("node", name="uq_mlstore_execution_node"),
    )
    op.create_index("ix_mlstore_execution_pipeline_type", "mlstore_execution", ["pipeline", "type"])
    op.create_index("ix_mlstore_execution_cache_key", "mlstore_execution", ["cache_key"])

    op.create_table(
        "mlstore_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.BigInteger(), nullable=False),
        sa.Column("artifact_id", sa.BigInteger(), nullable=False),
        sa.Column("is_output", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("src", sa.BigInteger(), nullable=False),
        sa.Column("dst", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mlstore_event"),
        sa.UniqueConstraint(
            "execution_id", "artifact_id", "is_output", "role",
            name="uq_mlstore_event_execution_id_artifact_id_is_output_role",
        ),
    )
    op.create_index("ix_mlstore_event_src", "mlstore_event", ["src"])
    op.create_index("ix_mlstore_event_dst", "mlstore_event", ["dst"])
    op.create_index("ix_mlstore_event_artifact_id", "mlstore_event", ["artifact_id"])

    op.create_table(
        "mlstore_metric",
        sa.Column("evaluation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slice", sa.String(255), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=True),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("span", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("evaluation_id", "slice", "metric", name="pk_mlstore_metric"),
    )
    op.create_index(
        "ix_mlstore_metric_pipeline_metric_slice_span", "mlstore_metric", ["pipeline", "metric", "slice", "span"]
    )
    op.create_index("ix_mlstore_metric_model_id", "mlstore_metric", ["model_id"])

    op.create_table(
        "mlstore_blessing",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("baseline_id", sa.BigInteger(), nullable=True),
        sa.Column("evaluation_id", sa.BigInteger(), nullable=True),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("blessed", sa.Boolean(), nullable=False),
        sa.Column("span", sa.BigInteger(), nullable=True),
        sa.Column("create_time_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mlstore_blessing"),
    )
    op.create_index(
        "ix_mlstore_blessing_pipeline_blessed_span_model_id",
        "mlstore_blessing",
        ["pipeline", "blessed", "span", "model_id"],
    )
    op.create_index("ix_mlstore_blessing_model_id", "mlstore_blessing", ["model_id"])

    op.create_table(
        "mlstore_journal",
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("external_id", name="pk_mlstore_journal"),
    )


def downgrade() -> None:
    for table in (
        "mlstore_journal",
        "mlstore_blessing",
        "mlstore_metric",
        "mlstore_event",
        "mlstore_execution",
        "mlstore_artifact",
    ):
        op.drop_table(table)
