"""eta_seconds: the estimated seconds left in the current fit or search

Revision ID: 0004_eta_seconds
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004_eta_seconds'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eta_seconds', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.drop_column('eta_seconds')
