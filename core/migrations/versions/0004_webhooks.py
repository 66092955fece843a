"""webhooks: endpoints, deliveries (job queue), custom integration event types

Revision ID: 0004_webhooks
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0004_webhooks"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_READY = sa.text("status IN ('pending', 'retrying')")


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("name", _str(200), nullable=False),
        sa.Column("url", _str(2048), nullable=False),
        sa.Column("description", _str(1000), nullable=True),
        sa.Column("event_types", core.db.JSONType, nullable=False),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("secret", _str(100), nullable=False),
        sa.Column("secret_preview", _str(40), nullable=False),
        sa.Column("first_failure_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("disabled_reason", _str(200), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoints_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_endpoints_workspace_id_id", ["workspace_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_endpoints_workspace_id_status", ["workspace_id", "status"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("run_after", core.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", core.db.UTCDateTime(), nullable=True),
        sa.Column("locked_by", _str(80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", _str(40), nullable=False),
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("endpoint_id", _str(40), nullable=False),
        sa.Column("event_id", _str(80), nullable=False),
        sa.Column("event_type", _str(120), nullable=False),
        sa.Column("payload", core.db.JSONType, nullable=False),
        sa.Column("event_created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", _str(500), nullable=True),
        sa.Column("last_response_ms", sa.Integer(), nullable=True),
        sa.Column("next_attempt_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_run_after"), ["run_after"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_workspace_endpoint_id",
            ["workspace_id", "endpoint_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_webhook_deliveries_due",
            ["run_after", "id"],
            unique=False,
            postgresql_where=_READY,
            sqlite_where=_READY,
        )

    op.create_table(
        "integration_event_types",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("key", _str(120), nullable=False),
        sa.Column("category", _str(60), nullable=False),
        sa.Column("description", _str(500), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_integration_event_types_key"),
    )
    with op.batch_alter_table("integration_event_types", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_event_types_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("integration_event_types")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
