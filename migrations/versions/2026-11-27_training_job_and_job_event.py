"""training_job and job_event

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 06:47:40.077319
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('training_job',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_name', sa.String(length=128), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=128), nullable=False),
    sa.Column('experiment_name', sa.String(length=256), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('best_hyperparameters', sa.JSON(), nullable=True),
    sa.Column('artifacts_location', sa.Text(), nullable=True),
    sa.Column('registry', sa.JSON(), nullable=True),
    sa.Column('data_lineage', sa.JSON(), nullable=True),
    sa.Column('error_type', sa.String(length=128), nullable=True),
    sa.Column('error_stage', sa.String(length=32), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('max_runtime_seconds', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_job')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_training_job_idempotency_key'))
    )
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.create_index('ix_training_job_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_job_experiment_name'), ['experiment_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_job_model_name'), ['model_name'], unique=False)
        batch_op.create_index('ix_training_job_status_created_at', ['status', 'created_at'], unique=False)

    op.create_table('job_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['training_job.id'], name=op.f('fk_job_event_job_id_training_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_event'))
    )
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_event_job_id'), ['job_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_event_job_id'))

    op.drop_table('job_event')
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.drop_index('ix_training_job_status_created_at')
        batch_op.drop_index(batch_op.f('ix_training_job_model_name'))
        batch_op.drop_index(batch_op.f('ix_training_job_experiment_name'))
        batch_op.drop_index('ix_training_job_created_at')

    op.drop_table('training_job')
