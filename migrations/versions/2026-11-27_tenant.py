"""tenant

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:34:16.614876
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tenant', sa.String(length=128), server_default='', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_training_job_idempotency_key'), type_='unique')
        batch_op.create_index('ix_training_job_tenant_created_at', ['tenant', 'created_at'], unique=False)
        batch_op.create_unique_constraint('uq_training_job_tenant_idem_key', ['tenant', 'idempotency_key'])



def downgrade() -> None:
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.drop_constraint('uq_training_job_tenant_idem_key', type_='unique')
        batch_op.drop_index('ix_training_job_tenant_created_at')
        batch_op.create_unique_constraint(batch_op.f('uq_training_job_idempotency_key'), ['idempotency_key'])
        batch_op.drop_column('tenant')

