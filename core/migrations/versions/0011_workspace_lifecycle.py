"""workspace lifecycle: archived/closed/purged times on workspaces, data exports (a job
table with its claim function) and the daily usage meters (both workspace-owned, with
row-level security)

Revision ID: 0011_workspace_lifecycle
Revises: 0010_members
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db
from core.migrations.tenancy import (
    create_claim_function,
    disable_tenant_isolation,
    drop_claim_function,
    enable_tenant_isolation,
)

revision: str = "0011_workspace_lifecycle"
down_revision: str | Sequence[str] | None = "0010_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUED = sa.text("status IN ('queued', 'running')")
EXPORT_READY = ("queued", "running")


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("purged_at", core.db.UTCDateTime(), nullable=True))

    op.create_table(
        "workspace_exports",
        sa.Column("lease_until", core.db.UTCDateTime(), nullable=True),
        sa.Column("locked_by", _str(80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", _str(40), nullable=False),
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("run_after", core.db.UTCDateTime(), nullable=False),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("file_name", _str(200), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("record_counts", core.db.JSONType, nullable=True),
        sa.Column("error", _str(2000), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="workspace_exports_pkey"),
    )
    op.create_index(
        "ix_workspace_exports_due",
        "workspace_exports",
        ["run_after", "id"],
        unique=False,
        postgresql_where=_QUEUED,
        sqlite_where=_QUEUED,
    )
    op.create_table(
        "usage_daily",
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("meter", _str(40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "meter", "day", name="usage_daily_pkey"),
    )
    for table in ("workspace_exports", "usage_daily"):
        enable_tenant_isolation(op.execute, table, dialect=dialect)
    create_claim_function(op.execute, "workspace_exports", EXPORT_READY, dialect=dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    drop_claim_function(op.execute, "workspace_exports", dialect=dialect)
    for table in ("usage_daily", "workspace_exports"):
        disable_tenant_isolation(op.execute, table, dialect=dialect)
    op.drop_table("usage_daily")
    op.drop_index("ix_workspace_exports_due", table_name="workspace_exports")
    op.drop_table("workspace_exports")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("archived_at")
