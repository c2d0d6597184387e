"""One covering index on metrics instead of two: cheaper daily writes.

Every evaluation adds a row per (slice, metric) — 200 in a typical day — and each row
lands on a different leaf page of every index ordered by series. Two such indexes
(series by span, and by value for "best") cost two scattered page writes per row.
One index ordered by value that also holds span, model and evaluation answers both:
"best" reads it in order, the series query reads the same entries and sorts them by
span (10,000 points sort in about a millisecond).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RANKED = ["pipeline", "metric", "slice", "value", "span", "model_id", "evaluation_id"]


def upgrade() -> None:
    op.drop_index("ix_mlstore_metric_series", table_name="mlstore_metric")
    op.drop_index("ix_mlstore_metric_pipeline_metric_slice_value", table_name="mlstore_metric")
    op.create_index("ix_mlstore_metric_ranked", "mlstore_metric", _RANKED)


def downgrade() -> None:
    op.drop_index("ix_mlstore_metric_ranked", table_name="mlstore_metric")
    op.create_index("ix_mlstore_metric_series", "mlstore_metric",
                    ["pipeline", "metric", "slice", "span", "model_id", "evaluation_id", "value"])
    op.create_index("ix_mlstore_metric_pipeline_metric_slice_value", "mlstore_metric",
                    ["pipeline", "metric", "slice", "value"])
