"""Erasures: one row per erasure of a user, its steps recorded as they complete, leased by the
replica working on it so another takes over after a crash. The user's id is kept only while the
erasure runs; a completed one names nobody (a check constraint holds it to that).

Revision ID: 0007
Revises: 0006
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("requested_by_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'processing', 'completed')", name="ck_erasures_status_known"),
        sa.CheckConstraint(
            "(status = 'completed') = (subject IS NULL)", name="ck_erasures_completed_names_nobody"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
        schema="exports",
    )
    # One unfinished erasure per user: asking again while it runs answers the same one.
    op.create_index(
        "uq_erasures_subject", "erasures", ["subject"], unique=True, schema="exports",
        postgresql_where=sa.text("subject IS NOT NULL"),
    )
    op.create_index(
        "ix_erasures_unfinished", "erasures", ["created_at"], schema="exports",
        postgresql_where=sa.text("status <> 'completed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_erasures_unfinished", table_name="erasures", schema="exports")
    op.drop_index("uq_erasures_subject", table_name="erasures", schema="exports")
    op.drop_table("erasures", schema="exports")
