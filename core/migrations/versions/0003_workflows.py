"""workflows: workflows, workflow runs (a job table), per-day run counters

Revision ID: 0003_workflows
Revises: 0001_foundation
Create Date: 2026-11-23 18:16:46.313355
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0003_workflows"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_daily_usage",
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "day"),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("recipe", core.db.JSONType, nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflows_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index("ix_workflows_workspace_id_id", ["workspace_id", "id"], unique=False)

    op.create_table(
        "workflow_runs",
        sa.Column("run_after", core.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", core.db.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("input", core.db.JSONType, nullable=False),
        sa.Column("recipe", core.db.JSONType, nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("token_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("steps", core.db.JSONType, nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("steps_succeeded", sa.Integer(), nullable=False),
        sa.Column("steps_failed", sa.Integer(), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("error_message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workflow_runs_due",
            ["run_after", "id"],
            unique=False,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.create_index(batch_op.f("ix_workflow_runs_run_after"), ["run_after"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_workflow_runs_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index(
            "ix_workflow_runs_workspace_id_id", ["workspace_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_workflow_runs_workspace_workflow_id",
            ["workspace_id", "workflow_id", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_workflow_runs_workspace_workflow_id")
        batch_op.drop_index("ix_workflow_runs_workspace_id_id")
        batch_op.drop_index(batch_op.f("ix_workflow_runs_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_runs_run_after"))
        batch_op.drop_index(
            "ix_workflow_runs_due",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )

    op.drop_table("workflow_runs")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index("ix_workflows_workspace_id_id")
        batch_op.drop_index(batch_op.f("ix_workflows_workspace_id"))

    op.drop_table("workflows")
    op.drop_table("workflow_daily_usage")
