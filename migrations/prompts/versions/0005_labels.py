"""Labels: named pointers from a prompt to one of its versions, each move kept in a history; and a
version's model config (free-form JSON versioned with its text).

A label's revision comes from one sequence, so it never repeats for a label that is deleted and set
again (a client's If-None-Match or If-Match cannot match a different pointing). The history has no
foreign key to the label, so it outlives a deleted label (a delete is a move to nothing); it goes
with the prompt.

Revision ID: 0005
Revises: 0004
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        "versions", sa.Column("model_config", postgresql.JSONB(), nullable=True), schema="prompts"
    )
    op.execute("CREATE SEQUENCE prompts.label_revisions")
    op.create_table(
        "labels",
        sa.Column("prompt_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "revision",
            sa.BigInteger(),
            server_default=sa.text("nextval('prompts.label_revisions')"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"], ["prompts.prompts.id"], name="fk_labels_prompt_id_prompts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id", "version_no"],
            ["prompts.versions.prompt_id", "prompts.versions.version_no"],
            name="fk_labels_prompt_id_versions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prompt_id", "name", name="pk_labels"),
        schema="prompts",
    )
    op.create_table(
        "label_moves",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("prompt_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("label", sa.String(63), nullable=False),
        sa.Column("from_version_no", sa.Integer(), nullable=True),
        sa.Column("to_version_no", sa.Integer(), nullable=True),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_by", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"], ["prompts.prompts.id"], name="fk_label_moves_prompt_id_prompts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_label_moves"),
        schema="prompts",
    )
    op.create_index(
        "ix_label_moves_prompt_id_label_id", "label_moves", ["prompt_id", "label", "id"], schema="prompts"
    )


def downgrade() -> None:
    op.drop_table("label_moves", schema="prompts")
    op.drop_table("labels", schema="prompts")
    op.execute("DROP SEQUENCE prompts.label_revisions")
    op.drop_column("versions", "model_config", schema="prompts")
