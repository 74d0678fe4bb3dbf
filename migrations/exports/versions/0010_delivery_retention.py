"""The delivery log's retention (services/exports/webhooks/retention.py): ended deliveries are
deleted oldest first, found by this index of the ended ones, so a pass reads only what it deletes.

Revision ID: 0010
Revises: 0009
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_ended_at",
        "webhook_deliveries",
        ["ended_at"],
        schema="exports",
        postgresql_where=sa.text("status <> 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_ended_at", table_name="webhook_deliveries", schema="exports")
