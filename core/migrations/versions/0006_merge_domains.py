"""merge the domain branches (crm, webhooks, workflows) into one head

Revision ID: 0006_merge_domains
Revises: 0002_crm, 0004_webhooks, 0005_workflow_run_indexes
Create Date: 2026-11-23 19:30:00
"""

from collections.abc import Sequence

revision: str = "0006_merge_domains"
down_revision: str | Sequence[str] | None = (
    "0002_crm",
    "0004_webhooks",
    "0005_workflow_run_indexes",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
