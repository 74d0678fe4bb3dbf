"""Export schedules: a source rendered at every fire of a cadence, whole or only the rows changed in
each window, delivered to the deployment's store or an S3 bucket whose credentials are kept
encrypted. A run is an ordinary export row carrying its schedule and window; at most one live
(queued, processing or completed) run per (schedule, window start), so two replicas can never run
one window twice, while a failed run leaves room for its retry.

Revision ID: 0009
Revises: 0008
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("owner_is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False),
        sa.Column("every", sa.String(length=255), nullable=False),
        sa.Column("cron", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("destination", postgresql.JSONB(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("next_window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_schedules_mode_known")),
        sa.CheckConstraint(
            "(pending_window_start IS NULL) = (pending_window_end IS NULL)",
            name=op.f("ck_schedules_pending_window_whole"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        schema="exports",
    )
    op.create_index("ix_schedules_owner_created_at_id", "schedules", ["owner", "created_at", "id"], schema="exports")
    op.create_index("ix_schedules_due_at", "schedules", ["due_at"], schema="exports")
    op.add_column("exports", sa.Column("schedule_id", sa.UUID(), nullable=True), schema="exports")
    op.add_column("exports", sa.Column("window_start", sa.DateTime(timezone=True), nullable=True), schema="exports")
    op.add_column("exports", sa.Column("window_end", sa.DateTime(timezone=True), nullable=True), schema="exports")
    op.add_column("exports", sa.Column("delivered_to", sa.Text(), nullable=True), schema="exports")
    op.create_index(
        "uq_exports_schedule_window",
        "exports",
        ["schedule_id", "window_start"],
        unique=True,
        schema="exports",
        postgresql_where=sa.text("schedule_id IS NOT NULL AND status <> 'failed'"),
    )
    op.create_index(
        "ix_exports_schedule_runs",
        "exports",
        ["schedule_id", "window_start", "created_at"],
        schema="exports",
        postgresql_where=sa.text("schedule_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_exports_schedule_runs", table_name="exports", schema="exports")
    op.drop_index("uq_exports_schedule_window", table_name="exports", schema="exports")
    op.drop_column("exports", "delivered_to", schema="exports")
    op.drop_column("exports", "window_end", schema="exports")
    op.drop_column("exports", "window_start", schema="exports")
    op.drop_column("exports", "schedule_id", schema="exports")
    op.drop_index("ix_schedules_due_at", table_name="schedules", schema="exports")
    op.drop_index("ix_schedules_owner_created_at_id", table_name="schedules", schema="exports")
    op.drop_table("schedules", schema="exports")
