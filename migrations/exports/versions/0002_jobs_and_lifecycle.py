"""Export jobs (queue, lease, attempts, progress) and the export lifecycle (expiry, compression,
revocable and counted share links).

A queued export is claimed by any replica with FOR UPDATE SKIP LOCKED (ix_exports_queue); a
claimed one holds a lease that its worker's heartbeat extends, and an expired lease puts the job
back in reach (ix_exports_leases). The caller's token rides with a job until it finishes, because
the worker reads the sources as the caller; it is cleared when the job ends.

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

STATES = "status IN ('queued', 'processing', 'completed', 'failed')"


def upgrade() -> None:
    # Jobs ------------------------------------------------------------------------------------
    op.drop_constraint('ck_exports_status_known', 'exports', schema='exports')
    op.create_check_constraint('ck_exports_status_known', 'exports', STATES, schema='exports')
    op.add_column('exports', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False), schema='exports')
    op.add_column('exports', sa.Column('lease_owner', sa.String(length=255), nullable=True), schema='exports')
    op.add_column('exports', sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True), schema='exports')
    op.add_column('exports', sa.Column('job_token', sa.Text(), nullable=True), schema='exports')
    op.add_column('exports', sa.Column('rows_rendered', sa.BigInteger(), server_default='0', nullable=False), schema='exports')
    op.create_index('ix_exports_queue', 'exports', ['created_at'], schema='exports',
                    postgresql_where=sa.text("status = 'queued'"))
    op.create_index('ix_exports_leases', 'exports', ['lease_expires_at'], schema='exports',
                    postgresql_where=sa.text("status = 'processing'"))
    # Lifecycle -------------------------------------------------------------------------------
    op.add_column('exports', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True), schema='exports')
    op.add_column('exports', sa.Column('content_encoding', sa.String(length=16), nullable=True), schema='exports')
    op.add_column('exports', sa.Column('stored_bytes', sa.BigInteger(), nullable=True), schema='exports')
    op.create_index('ix_exports_expires_at', 'exports', ['expires_at'], schema='exports')
    # The sweeper asks which stored keys a row still points at.
    op.create_index('ix_exports_blob_key', 'exports', ['blob_key'], schema='exports')
    # When each chunk was written (clock_timestamp: a put's transaction lasts as long as its render),
    # so the sweeper leaves bytes younger than its grace period alone.
    op.add_column('blob_chunks', sa.Column('stored_at', sa.DateTime(timezone=True),
                                           server_default=sa.text('clock_timestamp()'), nullable=False), schema='exports')
    op.add_column('share_links', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True), schema='exports')
    op.add_column('share_links', sa.Column('download_count', sa.BigInteger(), server_default='0', nullable=False), schema='exports')
    op.add_column('share_links', sa.Column('last_downloaded_at', sa.DateTime(timezone=True), nullable=True), schema='exports')


def downgrade() -> None:
    op.drop_column('share_links', 'last_downloaded_at', schema='exports')
    op.drop_column('share_links', 'download_count', schema='exports')
    op.drop_column('share_links', 'revoked_at', schema='exports')
    op.drop_column('blob_chunks', 'stored_at', schema='exports')
    op.drop_index('ix_exports_blob_key', table_name='exports', schema='exports')
    op.drop_index('ix_exports_expires_at', table_name='exports', schema='exports')
    for column in ('stored_bytes', 'content_encoding', 'expires_at'):
        op.drop_column('exports', column, schema='exports')
    op.drop_index('ix_exports_leases', table_name='exports', schema='exports')
    op.drop_index('ix_exports_queue', table_name='exports', schema='exports')
    for column in ('rows_rendered', 'job_token', 'lease_expires_at', 'lease_owner', 'attempts'):
        op.drop_column('exports', column, schema='exports')
    op.execute("DELETE FROM exports.exports WHERE status = 'queued'")
    op.drop_constraint('ck_exports_status_known', 'exports', schema='exports')
    op.create_check_constraint('ck_exports_status_known', 'exports', "status IN ('processing', 'completed', 'failed')", schema='exports')
