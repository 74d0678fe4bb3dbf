"""Webhook signing secrets sealed at rest (services/exports/sealing.py): a subscription's secret is
kept in `secret_sealed`, and `secret` is empty. Rows from before keep their plain secret until a
worker replica seals it at start (webhooks/secrets.py); a downgrade cannot open sealed secrets
without the deployment's keys, so it leaves `secret` empty for those (their subscriptions must be
created again).

Revision ID: 0011
Revises: 0010
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("webhooks", sa.Column("secret_sealed", sa.LargeBinary(), nullable=True), schema="exports")


def downgrade() -> None:
    op.drop_column("webhooks", "secret_sealed", schema="exports")
