"""A queued export job keeps the W3C traceparent of the request that queued it, so the worker's
span links to that trace. It names a trace and a span, nothing secret; NULL when tracing was off.

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('exports', sa.Column('traceparent', sa.String(length=64), nullable=True), schema='exports')


def downgrade() -> None:
    op.drop_column('exports', 'traceparent', schema='exports')
