"""Schema exports: export rows, blob chunks of the postgres blob store, share links, render log.

Drafted by autogenerate and read through; every query of the repository has an index.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:21:19.798603

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
    op.create_table('blob_chunks',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'seq', name=op.f('pk_blob_chunks')),
    schema='exports'
    )
    # Rendered files are mostly compressed already (xlsx, docx, pdf, zip); TOAST compression of
    # every chunk would cost CPU on the export hot path for little gain.
    op.execute("ALTER TABLE exports.blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table('exports',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('options_hash', sa.String(length=64), nullable=False),
    sa.Column('source_revision', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('blob_key', sa.String(length=255), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('receipt', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('download_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_downloaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cache_hits', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'completed' OR (blob_key IS NOT NULL AND sha256 IS NOT NULL AND size_bytes IS NOT NULL)", name=op.f('ck_exports_completed_has_bytes')),
    sa.CheckConstraint("status = 'completed' OR blob_key IS NULL", name=op.f('ck_exports_only_completed_has_bytes')),
    sa.CheckConstraint("status IN ('processing', 'completed', 'failed')", name=op.f('ck_exports_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports')),
    schema='exports'
    )
    op.create_index('ix_exports_owner_created_at_id', 'exports', ['owner', 'created_at', 'id'], unique=False, schema='exports')
    op.create_index('ix_exports_owner_source_created_at', 'exports', ['owner', 'source', 'created_at'], unique=False, schema='exports')
    op.create_index('uq_exports_render_key', 'exports', ['owner', 'source', 'format', 'options_hash', 'source_revision'], unique=True, schema='exports', postgresql_where=sa.text("status <> 'failed'"))
    op.create_table('render_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_render_events')),
    schema='exports'
    )
    op.create_index('ix_render_events_owner_created_at', 'render_events', ['owner', 'created_at'], unique=False, schema='exports')
    op.create_table('share_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('export_id', sa.UUID(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['export_id'], ['exports.exports.id'], name=op.f('fk_share_links_export_id_exports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_share_links')),
    schema='exports'
    )
    op.create_index(op.f('ix_share_links_export_id'), 'share_links', ['export_id'], unique=False, schema='exports')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_share_links_export_id'), table_name='share_links', schema='exports')
    op.drop_table('share_links', schema='exports')
    op.drop_index('ix_render_events_owner_created_at', table_name='render_events', schema='exports')
    op.drop_table('render_events', schema='exports')
    op.drop_index('uq_exports_render_key', table_name='exports', schema='exports', postgresql_where=sa.text("status <> 'failed'"))
    op.drop_index('ix_exports_owner_source_created_at', table_name='exports', schema='exports')
    op.drop_index('ix_exports_owner_created_at_id', table_name='exports', schema='exports')
    op.drop_table('exports', schema='exports')
    op.drop_table('blob_chunks', schema='exports')
