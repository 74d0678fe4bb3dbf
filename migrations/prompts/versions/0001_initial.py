"""Schema prompts: prompts, versions, scores, feedback, security scans, owner revisions.

Drafted by autogenerate and read through; every query of the repository has an index.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:11:26.987600

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
    op.create_table('owner_revisions',
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('owner', name=op.f('pk_owner_revisions')),
    schema='prompts'
    )
    op.create_table('prompts',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('agent_type', sa.String(length=255), nullable=True),
    sa.Column('original_text', sa.Text(), nullable=False),
    sa.Column('revision', sa.BigInteger(), server_default='1', nullable=False),
    sa.Column('version_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('best_version_no', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompts')),
    sa.UniqueConstraint('owner', 'request_id', name=op.f('uq_prompts_owner_request_id')),
    schema='prompts'
    )
    op.create_index('ix_prompts_owner_created_at_id', 'prompts', ['owner', 'created_at', 'id'], unique=False, schema='prompts')
    op.create_table('security_scans',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('input_text', sa.Text(), nullable=False),
    sa.Column('risk_score', sa.Double(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("label IN ('safe', 'suspicious', 'malicious')", name=op.f('ck_security_scans_label_known')),
    sa.CheckConstraint('risk_score >= 0 AND risk_score <= 1', name=op.f('ck_security_scans_risk_score_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_scans')),
    schema='prompts'
    )
    op.create_index('ix_security_scans_owner_created_at_id', 'security_scans', ['owner', 'created_at', 'id'], unique=False, schema='prompts')
    op.create_table('feedback',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=False),
    sa.Column('prompt_id', sa.UUID(), nullable=False),
    sa.Column('user_choice', sa.String(length=16), nullable=False),
    sa.Column('judge_winner', sa.String(length=255), nullable=False),
    sa.Column('agent_winner', sa.String(length=255), nullable=False),
    sa.Column('judge_correct', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("user_choice IN ('original', 'single', 'multi')", name=op.f('ck_feedback_user_choice_known')),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.prompts.id'], name=op.f('fk_feedback_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('owner', 'request_id', name=op.f('uq_feedback_owner_request_id')),
    schema='prompts'
    )
    op.create_index('ix_feedback_owner_created_at_id', 'feedback', ['owner', 'created_at', 'id'], unique=False, schema='prompts')
    op.create_index(op.f('ix_feedback_prompt_id'), 'feedback', ['prompt_id'], unique=False, schema='prompts')
    op.create_table('versions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('prompt_id', sa.UUID(), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('parent_version_no', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('parent_version_no IS NULL OR parent_version_no < version_no', name=op.f('ck_versions_parent_is_earlier')),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.prompts.id'], name=op.f('fk_versions_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_versions')),
    sa.UniqueConstraint('prompt_id', 'version_no', name=op.f('uq_versions_prompt_id_version_no')),
    schema='prompts'
    )
    op.create_index('ix_versions_source', 'versions', ['source'], unique=False, schema='prompts')
    op.create_table('scores',
    sa.Column('prompt_id', sa.UUID(), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('clarity', sa.Double(), nullable=False),
    sa.Column('specificity', sa.Double(), nullable=False),
    sa.Column('actionability', sa.Double(), nullable=False),
    sa.Column('structure', sa.Double(), nullable=False),
    sa.Column('context_use', sa.Double(), nullable=False),
    sa.Column('total', sa.Double(), sa.Computed('clarity + specificity + actionability + structure + context_use', persisted=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('actionability >= 0 AND actionability <= 10', name=op.f('ck_scores_actionability_range')),
    sa.CheckConstraint('clarity >= 0 AND clarity <= 10', name=op.f('ck_scores_clarity_range')),
    sa.CheckConstraint('context_use >= 0 AND context_use <= 10', name=op.f('ck_scores_context_use_range')),
    sa.CheckConstraint('specificity >= 0 AND specificity <= 10', name=op.f('ck_scores_specificity_range')),
    sa.CheckConstraint('structure >= 0 AND structure <= 10', name=op.f('ck_scores_structure_range')),
    sa.ForeignKeyConstraint(['prompt_id', 'version_no'], ['prompts.versions.prompt_id', 'prompts.versions.version_no'], name=op.f('fk_scores_prompt_id_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prompt_id', 'version_no', name=op.f('pk_scores')),
    schema='prompts'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('scores', schema='prompts')
    op.drop_index('ix_versions_source', table_name='versions', schema='prompts')
    op.drop_table('versions', schema='prompts')
    op.drop_index(op.f('ix_feedback_prompt_id'), table_name='feedback', schema='prompts')
    op.drop_index('ix_feedback_owner_created_at_id', table_name='feedback', schema='prompts')
    op.drop_table('feedback', schema='prompts')
    op.drop_index('ix_security_scans_owner_created_at_id', table_name='security_scans', schema='prompts')
    op.drop_table('security_scans', schema='prompts')
    op.drop_index('ix_prompts_owner_created_at_id', table_name='prompts', schema='prompts')
    op.drop_table('prompts', schema='prompts')
    op.drop_table('owner_revisions', schema='prompts')
