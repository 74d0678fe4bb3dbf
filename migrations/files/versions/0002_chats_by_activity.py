"""Chats listed by activity: an index on (owner, updated_at, chat_id) for ListChats' keyset pages.

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_chats_owner_updated_at_chat_id', 'chats', ['owner', 'updated_at', 'chat_id'], schema='files')


def downgrade() -> None:
    op.drop_index('ix_chats_owner_updated_at_chat_id', table_name='chats', schema='files')
