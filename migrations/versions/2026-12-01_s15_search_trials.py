"""search trials as units of work; trial worker and source; the job's estimate

Revision ID: s15trials
Revises: r14reads
Create Date: 2026-12-01 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 's15trials'
down_revision: str | None = 'r14reads'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('search_trial',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('rung', sa.Integer(), nullable=False),
    sa.Column('resource', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claim', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['training_job.id'], name=op.f('fk_search_trial_job_id_training_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_trial')),
    sa.UniqueConstraint('job_id', 'number', name='uq_search_trial_job_number')
    )
    with op.batch_alter_table('search_trial', schema=None) as batch_op:
        batch_op.create_index('ix_search_trial_state_job', ['state', 'job_id'], unique=False)
    with op.batch_alter_table('trial', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='search', nullable=False))
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estimate', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.drop_column('estimate')
    with op.batch_alter_table('trial', schema=None) as batch_op:
        batch_op.drop_column('source')
        batch_op.drop_column('worker')
    with op.batch_alter_table('search_trial', schema=None) as batch_op:
        batch_op.drop_index('ix_search_trial_state_job')
    op.drop_table('search_trial')
