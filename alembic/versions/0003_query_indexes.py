"""Covering indexes for the hot queries: metric series, best-on-a-slice, non-LIVE artifacts.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The series query reads (span, model, evaluation, value) for one (pipeline, metric,
    # slice): with every column in the index it never touches the 2M-row table.
    op.drop_index("ix_mlstore_metric_pipeline_metric_slice_span", table_name="mlstore_metric")
    op.create_index(
        "ix_mlstore_metric_series",
        "mlstore_metric",
        ["pipeline", "metric", "slice", "span", "model_id", "evaluation_id", "value"],
    )
    op.create_index("ix_mlstore_metric_pipeline_metric_slice_value", "mlstore_metric",
                    ["pipeline", "metric", "slice", "value"])
    op.create_index("ix_mlstore_artifact_state", "mlstore_artifact", ["state"])


def downgrade() -> None:
    op.drop_index("ix_mlstore_artifact_state", table_name="mlstore_artifact")
    op.drop_index("ix_mlstore_metric_pipeline_metric_slice_value", table_name="mlstore_metric")
    op.drop_index("ix_mlstore_metric_series",
                  table_name="mlstore_metric")
    op.create_index("ix_mlstore_metric_pipeline_metric_slice_span", "mlstore_metric",
                    ["pipeline", "metric", "slice", "span"])
