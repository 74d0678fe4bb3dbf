"""Reserved for the schedules change of this schema (filled in by the change that needs it).

Revision ID: 0009
Revises: 0008
"""

from typing import Sequence, Union

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
