"""Storage quotas and retention: per-user usage (backfilled from the stored files), admins' quota
overrides, and each file's last access.

Revision ID: 0003
Revises: 0002
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("used_bytes >= 0", name=op.f("ck_usage_used_bytes_not_negative")),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_usage")),
        schema="files",
    )
    op.create_table(
        "quota_overrides",
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quota_bytes >= 0", name=op.f("ck_quota_overrides_quota_bytes_not_negative")),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_quota_overrides")),
        schema="files",
    )
    op.add_column(
        "chat_files",
        sa.Column(
            "last_accessed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        schema="files",
    )
    # Existing files count as accessed when last written, not when this migration ran.
    op.execute("UPDATE files.chat_files SET last_accessed_at = updated_at")
    op.create_index(
        op.f("ix_chat_files_last_accessed_at"),
        "chat_files",
        ["last_accessed_at"],
        unique=False,
        schema="files",
    )
    op.execute(
        "INSERT INTO files.usage (owner, used_bytes) "
        "SELECT owner, sum(size_bytes) FROM files.chat_files GROUP BY owner"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_files_last_accessed_at"), table_name="chat_files", schema="files")
    op.drop_column("chat_files", "last_accessed_at", schema="files")
    op.drop_table("quota_overrides", schema="files")
    op.drop_table("usage", schema="files")
