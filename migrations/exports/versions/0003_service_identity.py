"""Jobs carry no bearer token: the worker reads sources with short-lived service tokens it mints
for the job's owner, so a job records only whether its owner asked as an admin.

Jobs queued before this revision were admins' when they ask for every user's data (only an
admin may); they keep that scope. Their stored tokens are dropped with the column.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('exports', sa.Column('owner_is_admin', sa.Boolean(), server_default=sa.false(), nullable=False),
                  schema='exports')
    op.execute(
        "UPDATE exports.exports SET owner_is_admin = true"
        " WHERE status IN ('queued', 'processing') AND options->>'all_users' = 'true'"
    )
    op.drop_column('exports', 'job_token', schema='exports')


def downgrade() -> None:
    # Jobs queued meanwhile carry no token the older workers could use: they fail when taken.
    op.add_column('exports', sa.Column('job_token', sa.Text(), nullable=True), schema='exports')
    op.drop_column('exports', 'owner_is_admin', schema='exports')
