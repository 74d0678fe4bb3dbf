"""Schema files: chats, chat files, their content in chunks, table artifacts, the revision sequence.

Drafted by autogenerate and read through (it does not see sequences); every query of the
repository has an index: (owner, chat_id, filename) for lookups, (owner, chat_id, created_at, id)
for pages, (content_id, seq) for content.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:28:02.909078

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(sa.schema.CreateSequence(sa.Sequence('revisions', schema='files')))
    op.create_table('chats',
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'chat_id', name=op.f('pk_chats')),
    schema='files'
    )
    op.create_table('artifacts',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('rows', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['owner', 'chat_id'], ['files.chats.owner', 'files.chats.chat_id'], name=op.f('fk_artifacts_owner_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    schema='files'
    )
    op.create_index('ix_artifacts_owner_chat_id_created_at_id', 'artifacts', ['owner', 'chat_id', 'created_at', 'id'], unique=False, schema='files')
    op.create_table('chat_files',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=32), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('content_id', sa.UUID(), nullable=False),
    sa.Column('chunk_bytes', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['owner', 'chat_id'], ['files.chats.owner', 'files.chats.chat_id'], name=op.f('fk_chat_files_owner_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_files')),
    sa.UniqueConstraint('content_id', name=op.f('uq_chat_files_content_id')),
    sa.UniqueConstraint('owner', 'chat_id', 'filename', name=op.f('uq_chat_files_owner_chat_id_filename')),
    schema='files'
    )
    op.create_index('ix_chat_files_owner_chat_id_created_at_id', 'chat_files', ['owner', 'chat_id', 'created_at', 'id'], unique=False, schema='files')
    op.create_table('file_chunks',
    sa.Column('content_id', sa.UUID(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['content_id'], ['files.chat_files.content_id'], name=op.f('fk_file_chunks_content_id_chat_files'), ondelete='CASCADE', initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('content_id', 'seq', name=op.f('pk_file_chunks')),
    schema='files'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('file_chunks', schema='files')
    op.drop_index('ix_chat_files_owner_chat_id_created_at_id', table_name='chat_files', schema='files')
    op.drop_table('chat_files', schema='files')
    op.drop_index('ix_artifacts_owner_chat_id_created_at_id', table_name='artifacts', schema='files')
    op.drop_table('artifacts', schema='files')
    op.drop_table('chats', schema='files')
    op.execute(sa.schema.DropSequence(sa.Sequence('revisions', schema='files')))
