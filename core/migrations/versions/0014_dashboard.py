"""dashboard: a webhook delivery keeps the start of the receiver's last answer (shown with
the delivery's payload on the dashboard and by get_webhook_delivery)

Revision ID: 0014_dashboard
Revises: 0013_support
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_dashboard"
down_revision: str | Sequence[str] | None = "0013_support"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(
            sa.Column(
                "last_response_excerpt",
                sqlmodel.sql.sqltypes.AutoString(length=500),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("last_response_excerpt")
