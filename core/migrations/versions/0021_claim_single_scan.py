"""job claims read the due index once

The claim functions of migrations 0008, 0011 and 0013 found the earliest due row's
workspace with one scan of the due index and then that workspace's due rows with a
second. The function now takes the earliest ``limit`` due rows in one scan and leases
those of the first row's workspace (``core.migrations.tenancy.create_claim_function``);
the others stay unleased for the next claim. The signature and the result's shape are
unchanged (a batch is still one workspace's rows), so code of the previous revision
works with either body and the downgrade keeps the new one.

Revision ID: 0021_claim_single_scan
Revises: 0015_search_views
"""

from collections.abc import Sequence

from alembic import op

from core.migrations.tenancy import create_claim_function

revision: str = "0021_claim_single_scan"
down_revision: str | Sequence[str] | None = "0015_search_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_TABLES = {  # as of this revision: job table -> its queue's ready statuses
    "workflow_runs": ("queued", "running"),
    "webhook_deliveries": ("pending", "retrying"),
    "workspace_exports": ("queued", "running"),
    "support_sla_checks": ("pending",),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, ready in JOB_TABLES.items():
        create_claim_function(op.execute, table, ready, dialect=dialect)


def downgrade() -> None:
    """Keep the one-scan body: it answers the previous revision's callers as they expect
    (due rows of one workspace), only a batch may hold fewer of them."""
