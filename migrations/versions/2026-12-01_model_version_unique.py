"""model_version unique per tenant and model name

Revision ID: 0005
Revises: 0004_eta_seconds
Create Date: 2026-12-01 10:20:00

Versions used to be counted, so concurrent submits on PostgreSQL could share one. Before the
constraint goes on, a repeated version keeps its oldest job and the later ones get a suffix
(``3`` becomes ``3-dup2``), so an existing database migrates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004_eta_seconds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename_repeated_versions() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, tenant, model_name, model_version FROM training_job "
            "ORDER BY tenant, model_name, model_version, created_at, id"
        )
    ).all()
    seen: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row.tenant, row.model_name, row.model_version)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            connection.execute(
                sa.text("UPDATE training_job SET model_version = :version WHERE id = :id"),
                {"version": f"{row.model_version}-dup{seen[key]}", "id": row.id},
            )


def upgrade() -> None:
    _rename_repeated_versions()
    with op.batch_alter_table("training_job", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_training_job_tenant_model_version", ["tenant", "model_name", "model_version"]
        )


def downgrade() -> None:
    with op.batch_alter_table("training_job", schema=None) as batch_op:
        batch_op.drop_constraint("uq_training_job_tenant_model_version", type_="unique")
