"""A prompt counts its size (original text, and per version its text, source, explanation and a
fixed overhead), so that a write which would make it larger than one message can carry is refused.

Existing prompts are counted here; an explanation counts as its JSON text, close to what the
service counts for new ones (its encoded size).

Revision ID: 0003
Revises: 0002
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VERSION_OVERHEAD_BYTES = 128  # services/prompts/rules.py


def upgrade() -> None:
    op.add_column(
        "prompts",
        sa.Column("size_bytes", sa.BigInteger(), server_default="0", nullable=False),
        schema="prompts",
    )
    op.execute(
        f"""UPDATE prompts.prompts p SET size_bytes = octet_length(p.original_text) + COALESCE((
              SELECT sum({VERSION_OVERHEAD_BYTES} + octet_length(v.text) + octet_length(v.source)
                         + COALESCE(octet_length(v.explanation::text), 0))
              FROM prompts.versions v WHERE v.prompt_id = p.id), 0)"""
    )


def downgrade() -> None:
    op.drop_column("prompts", "size_bytes", schema="prompts")
