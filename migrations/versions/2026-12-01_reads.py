"""list indexes by tenant and filter in the sort order; the job tally

Revision ID: r14reads
Revises: i17events
Create Date: 2026-12-01 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r14reads"
down_revision: str | None = "i17events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_training_job_tenant_created_at_id": ["tenant", "created_at", "id"],
    "ix_training_job_tenant_status_created_at_id": ["tenant", "status", "created_at", "id"],
    "ix_training_job_tenant_model_created_at_id": ["tenant", "model_name", "created_at", "id"],
    "ix_training_job_tenant_experiment_created_at_id": [
        "tenant",
        "experiment_name",
        "created_at",
        "id",
    ],
    "ix_training_job_completed_at": ["completed_at"],
}
# Superseded by the indexes above, which start with the tenant like every query of the list.
REPLACED = {
    "ix_training_job_tenant_created_at": ["tenant", "created_at"],
    "ix_training_job_model_name": ["model_name"],
    "ix_training_job_experiment_name": ["experiment_name"],
}


def upgrade() -> None:
    with op.batch_alter_table("training_job", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    op.create_table(
        "job_tally",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "tenant", "status", "bucket", name=op.f("pk_job_tally")),
    )
    # Backfill from the jobs there are; from here on every change keeps the tally.
    from app.jobs.repository.tally import recount

    recount(op.get_bind())


def downgrade() -> None:
    op.drop_table("job_tally")
    with op.batch_alter_table("training_job", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        for name, columns in REPLACED.items():
            batch_op.create_index(name, columns, unique=False)
