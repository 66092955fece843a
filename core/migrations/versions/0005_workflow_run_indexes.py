"""workflow_runs: drop two redundant indexes; fillfactor 70 on PostgreSQL

Every index of a job table is written on each non-HOT update of a run. The single-column
``run_after`` index is covered by the partial ``ix_workflow_runs_due`` (the only query on
``run_after`` is the claim) and ``workspace_id`` by ``ix_workflow_runs_workspace_id_id``.
Fillfactor 70 leaves room on each heap page so the lease updates (claim, lock) can be
HOT updates (no index writes at all).

Revision ID: 0005_workflow_run_indexes
Revises: 0003_workflows
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_workflow_run_indexes"
down_revision: str | Sequence[str] | None = "0003_workflows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_workflow_runs_run_after", table_name="workflow_runs")
    op.drop_index("ix_workflow_runs_workspace_id", table_name="workflow_runs")
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE workflow_runs SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE workflow_runs RESET (fillfactor)")
    op.create_index("ix_workflow_runs_workspace_id", "workflow_runs", ["workspace_id"])
    op.create_index("ix_workflow_runs_run_after", "workflow_runs", ["run_after"])
