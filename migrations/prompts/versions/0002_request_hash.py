"""A prompt keeps the fingerprint of the request that created it (SHA-256 of the canonical body), so
that its request_id sent again with a different body is refused (409) instead of answered with the
old prompt. Prompts created before have none and keep answering as before.

Revision ID: 0002
Revises: 0001
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("prompts", sa.Column("request_hash", sa.LargeBinary(), nullable=True), schema="prompts")


def downgrade() -> None:
    op.drop_column("prompts", "request_hash", schema="prompts")
