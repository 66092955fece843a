"""support: queues, tickets, their messages and comments, the SLA check queue
(row-level security on each, a claim function for the queue, free-text search on tickets:
a pg_trgm index and a ``support_tickets_search`` view on PostgreSQL, FTS5 on SQLite)

Revision ID: 0013_support
Revises: 0012_conversations
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db
from core.db import APP_ROLE, TENANT_SETTING
from core.migrations.tenancy import (
    create_claim_function,
    disable_tenant_isolation,
    drop_claim_function,
    enable_tenant_isolation,
)

revision: str = "0013_support"
down_revision: str | Sequence[str] | None = "0012_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "support_queues",
    "support_tickets",
    "support_sla_checks",
    "support_ticket_comments",
    "support_ticket_messages",
)
SEARCH_VIEW = (
    "CREATE OR REPLACE VIEW support_tickets_search AS SELECT * FROM support_tickets "
    f"WHERE workspace_id = current_setting('{TENANT_SETTING}', true)"
)
"""Free-text search reads matching ids here (core.search): unlike the 3-column views of
migration 0008 it carries every column, so a list's other filters (status, queue …)
apply inside the view, next to the trigram condition."""


def _fts_sqlite() -> None:
    t = "support_tickets"
    op.execute(
        f"CREATE VIRTUAL TABLE {t}_fts USING fts5(search_text, content='{t}', "
        "content_rowid='rowid')"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_ai AFTER INSERT ON {t} BEGIN "
        f"INSERT INTO {t}_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_ad AFTER DELETE ON {t} BEGIN "
        f"INSERT INTO {t}_fts({t}_fts, rowid, search_text) "
        "VALUES ('delete', old.rowid, old.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {t}_fts_au AFTER UPDATE OF search_text ON {t} BEGIN "
        f"INSERT INTO {t}_fts({t}_fts, rowid, search_text) "
        "VALUES ('delete', old.rowid, old.search_text); "
        f"INSERT INTO {t}_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END"
    )


def upgrade() -> None:
    op.create_table(
        "support_queues",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("first_response_target_minutes", sa.Integer(), nullable=True),
        sa.Column("custom_fields", core.db.JSONType, nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="support_queues_pkey"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_support_queues_key"),
    )
    op.create_table(
        "support_tickets",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("queue_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("assignee_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("contact_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("company_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("deal_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("lead_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("invoice_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("custom_fields", core.db.JSONType, nullable=False),
        sa.Column("first_response_due_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("first_responded_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("sla_breached_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("search_text", sqlmodel.sql.sqltypes.AutoString(length=21000), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "company_id"],
            ["companies.workspace_id", "companies.id"],
            name="fk_support_tickets_company_id_companies",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name="fk_support_tickets_contact_id_contacts",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "deal_id"],
            ["deals.workspace_id", "deals.id"],
            name="fk_support_tickets_deal_id_deals",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "invoice_id"],
            ["invoices.workspace_id", "invoices.id"],
            name="fk_support_tickets_invoice_id_invoices",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name="fk_support_tickets_lead_id_leads",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "queue_id"],
            ["support_queues.workspace_id", "support_queues.id"],
            name="fk_support_tickets_queue_id_support_queues",
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="support_tickets_pkey"),
    )
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_tickets_workspace_assignee_id",
            ["workspace_id", "assignee_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_support_tickets_workspace_contact_id",
            ["workspace_id", "contact_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_support_tickets_workspace_queue_status_id",
            ["workspace_id", "queue_id", "status", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_support_tickets_workspace_status_id", ["workspace_id", "status", "id"], unique=False
        )

    op.create_table(
        "support_sla_checks",
        sa.Column("run_after", core.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", core.db.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["support_tickets.workspace_id", "support_tickets.id"],
            name="fk_support_sla_checks_ticket_id_support_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="support_sla_checks_pkey"),
        sa.UniqueConstraint("workspace_id", "ticket_id", name="uq_support_sla_checks_ticket_id"),
    )
    with op.batch_alter_table("support_sla_checks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_sla_checks_due",
            ["run_after", "id"],
            unique=False,
            postgresql_where=sa.text("status IN ('pending')"),
            sqlite_where=sa.text("status IN ('pending')"),
        )

    op.create_table(
        "support_ticket_comments",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("custom_fields", core.db.JSONType, nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["support_tickets.workspace_id", "support_tickets.id"],
            name="fk_support_ticket_comments_ticket_id_support_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="support_ticket_comments_pkey"),
    )
    with op.batch_alter_table("support_ticket_comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_ticket_comments_workspace_ticket_id",
            ["workspace_id", "ticket_id", "id"],
            unique=False,
        )

    op.create_table(
        "support_ticket_messages",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=50000), nullable=False),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("custom_fields", core.db.JSONType, nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["support_tickets.workspace_id", "support_tickets.id"],
            name="fk_support_ticket_messages_ticket_id_support_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="support_ticket_messages_pkey"),
    )
    with op.batch_alter_table("support_ticket_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_ticket_messages_workspace_ticket_id",
            ["workspace_id", "ticket_id", "id"],
            unique=False,
        )

    dialect = op.get_bind().dialect.name
    for table in TABLES:
        enable_tenant_isolation(op.execute, table, dialect=dialect)
    create_claim_function(op.execute, "support_sla_checks", ("pending",), dialect=dialect)
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_support_tickets_search_trgm ON support_tickets "
            "USING gin (search_text gin_trgm_ops)"
        )
        op.execute(SEARCH_VIEW)
        op.execute(f"GRANT SELECT ON support_tickets_search TO {APP_ROLE}")
    else:
        _fts_sqlite()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP VIEW IF EXISTS support_tickets_search")
        op.execute("DROP INDEX IF EXISTS ix_support_tickets_search_trgm")
    else:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS support_tickets_fts_{suffix}")
        op.execute("DROP TABLE IF EXISTS support_tickets_fts")
    drop_claim_function(op.execute, "support_sla_checks", dialect=dialect)
    for table in reversed(TABLES):
        disable_tenant_isolation(op.execute, table, dialect=dialect)
    with op.batch_alter_table("support_ticket_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_support_ticket_messages_workspace_ticket_id")

    op.drop_table("support_ticket_messages")
    with op.batch_alter_table("support_ticket_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_support_ticket_comments_workspace_ticket_id")

    op.drop_table("support_ticket_comments")
    with op.batch_alter_table("support_sla_checks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_support_sla_checks_due",
            postgresql_where=sa.text("status IN ('pending')"),
            sqlite_where=sa.text("status IN ('pending')"),
        )

    op.drop_table("support_sla_checks")
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_support_tickets_workspace_status_id")
        batch_op.drop_index("ix_support_tickets_workspace_queue_status_id")
        batch_op.drop_index("ix_support_tickets_workspace_contact_id")
        batch_op.drop_index("ix_support_tickets_workspace_assignee_id")

    op.drop_table("support_tickets")
    op.drop_table("support_queues")
