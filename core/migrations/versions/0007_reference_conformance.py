"""reference conformance: the REST kill switch, the audit log's request path, task statuses

Additive only: ``workspaces.rest_api_enabled`` (per-workspace REST kill switch, default
on), ``audit_log.path`` (the endpoint URL of a REST request, for look-ups by path), and a
data update renaming the task statuses ``done``/``cancelled`` to the reference API's
``completed``/``canceled`` (the old names stay accepted as deprecated aliases).

Revision ID: 0007_reference_conformance
Revises: 0006_merge_domains
Create Date: 2026-12-02 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_reference_conformance"
down_revision: str | Sequence[str] | None = "0006_merge_domains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column("rest_api_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    op.execute("UPDATE tasks SET status = 'completed' WHERE status = 'done'")
    op.execute("UPDATE tasks SET status = 'canceled' WHERE status = 'cancelled'")


def downgrade() -> None:
    op.execute("UPDATE tasks SET status = 'done' WHERE status = 'completed'")
    op.execute("UPDATE tasks SET status = 'cancelled' WHERE status = 'canceled'")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("path")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("rest_api_enabled")
