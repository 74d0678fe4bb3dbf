"""Import jobs: an uploaded takeout (or prompt json) waits in `imports` until a worker of any replica
claims it (FOR UPDATE SKIP LOCKED, a lease), verifies it and restores it into its owner's account.

Revision ID: 0008
Revises: 0007
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("counts", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("skipped", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("errors", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'failed')", name=op.f("ck_imports_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        schema="exports",
    )
    op.create_index("ix_imports_owner_created_at", "imports", ["owner", "created_at"], schema="exports")
    op.create_index(
        "ix_imports_queue",
        "imports",
        ["created_at"],
        schema="exports",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_imports_leases",
        "imports",
        ["lease_expires_at"],
        schema="exports",
        postgresql_where=sa.text("status = 'processing'"),
    )


def downgrade() -> None:
    op.drop_table("imports", schema="exports")
