"""tenant keys: (workspace_id, id) primary keys, tenant-keyed foreign keys and uniques

Every workspace-owned table gets a primary key that starts with ``workspace_id``;
foreign keys between workspace-owned tables become ``(workspace_id, <ref>_id)`` →
``(workspace_id, id)``, so a cross-workspace reference is impossible in the database;
unique constraints start with ``workspace_id``; single-column ``workspace_id`` indexes
and ``(workspace_id, id)`` indexes go (the primary key covers them).

Existing cross-workspace references (possible before, never written by the services)
are cleared when the column is optional (with a warning) and stop the migration when it
is required (nothing is lost silently).

PostgreSQL alters the tables in place. SQLite cannot change a primary key: each table
is rebuilt (new table, rows copied with their rowid so the FTS5 search indexes stay
valid, old table dropped, indexes and triggers re-created from their stored SQL);
``env.py`` runs SQLite migrations with foreign keys off and checks them before commit.

Revision ID: 0007_tenant_keys
Revises: 0006_merge_domains
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tenant_keys"
down_revision: str | Sequence[str] | None = "0006_merge_domains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

OWNED: dict[str, tuple[str, ...]] = {
    # table: its key columns before this migration (after it: workspace_id first)
    "accounting_accounts": ("id",),
    "activities": ("id",),
    "api_tokens": ("id",),
    "audit_log": ("id",),
    "companies": ("id",),
    "contacts": ("id",),
    "deal_stages": ("id",),
    "deals": ("id",),
    "domain_events": ("id",),
    "idempotency_keys": ("token_id", "key"),
    "integration_event_types": ("id",),
    "invoices": ("id",),
    "journal_entries": ("id",),
    "journal_lines": ("id",),
    "leads": ("id",),
    "payments": ("id",),
    "tasks": ("id",),
    "webhook_deliveries": ("id",),
    "webhook_endpoints": ("id",),
    "workflow_daily_usage": ("workspace_id", "day"),
    "workflow_runs": ("id",),
    "workflows": ("id",),
}


class Ref(NamedTuple):
    table: str
    column: str
    target: str
    before: str | None  # ON DELETE before this migration
    after: str | None  # ON DELETE after it (SET NULL cannot spare workspace_id)
    required: bool

    @property
    def name(self) -> str:
        return f"fk_{self.table}_{self.column}_{self.target}"


REFS = (
    Ref("contacts", "company_id", "companies", "SET NULL", None, False),
    Ref("leads", "converted_contact_id", "contacts", "SET NULL", None, False),
    Ref("leads", "converted_company_id", "companies", "SET NULL", None, False),
    Ref("leads", "converted_deal_id", "deals", "SET NULL", None, False),
    Ref("deals", "company_id", "companies", "SET NULL", None, False),
    Ref("deals", "contact_id", "contacts", "SET NULL", None, False),
    Ref("invoices", "company_id", "companies", "SET NULL", None, False),
    Ref("invoices", "contact_id", "contacts", "SET NULL", None, False),
    Ref("invoices", "deal_id", "deals", "SET NULL", None, False),
    Ref("payments", "invoice_id", "invoices", "CASCADE", "CASCADE", True),
    Ref("journal_lines", "entry_id", "journal_entries", "CASCADE", "CASCADE", True),
    Ref("journal_lines", "account_id", "accounting_accounts", None, None, True),
    Ref("webhook_deliveries", "endpoint_id", "webhook_endpoints", "CASCADE", "CASCADE", True),
    Ref("workflow_runs", "workflow_id", "workflows", "CASCADE", "CASCADE", True),
)

# (table, name, columns) of unique constraints before → after
UNIQUES_BEFORE = (
    ("api_tokens", None, ("token_hash",)),  # unique=True on the column
    ("webhook_deliveries", "uq_webhook_deliveries_event", ("endpoint_id", "event_id")),
)
UNIQUES_AFTER = (
    ("api_tokens", "uq_api_tokens_token_hash", ("workspace_id", "token_hash")),
    (
        "webhook_deliveries",
        "uq_webhook_deliveries_endpoint_id_event_id",
        ("workspace_id", "endpoint_id", "event_id"),
    ),
)

# (name, table, columns) of indexes the primary key makes redundant
INDEXES_BEFORE = (
    ("ix_accounting_accounts_workspace_id", "accounting_accounts", ("workspace_id",)),
    ("ix_accounting_accounts_workspace_id_id", "accounting_accounts", ("workspace_id", "id")),
    ("ix_activities_workspace_id", "activities", ("workspace_id",)),
    ("ix_activities_workspace_id_id", "activities", ("workspace_id", "id")),
    ("ix_api_tokens_workspace_id", "api_tokens", ("workspace_id",)),
    ("ix_audit_log_workspace_id", "audit_log", ("workspace_id",)),
    ("ix_audit_log_workspace_id_id", "audit_log", ("workspace_id", "id")),
    ("ix_companies_workspace_id", "companies", ("workspace_id",)),
    ("ix_companies_workspace_id_id", "companies", ("workspace_id", "id")),
    ("ix_contacts_workspace_id", "contacts", ("workspace_id",)),
    ("ix_contacts_workspace_id_id", "contacts", ("workspace_id", "id")),
    ("ix_deal_stages_workspace_id", "deal_stages", ("workspace_id",)),
    ("ix_deals_workspace_id", "deals", ("workspace_id",)),
    ("ix_deals_workspace_id_id", "deals", ("workspace_id", "id")),
    ("ix_domain_events_workspace_id", "domain_events", ("workspace_id",)),
    ("ix_idempotency_keys_workspace_id", "idempotency_keys", ("workspace_id",)),
    ("ix_integration_event_types_workspace_id", "integration_event_types", ("workspace_id",)),
    ("ix_invoices_workspace_id", "invoices", ("workspace_id",)),
    ("ix_invoices_workspace_id_id", "invoices", ("workspace_id", "id")),
    ("ix_journal_entries_workspace_id", "journal_entries", ("workspace_id",)),
    ("ix_journal_entries_workspace_id_id", "journal_entries", ("workspace_id", "id")),
    ("ix_journal_lines_workspace_id", "journal_lines", ("workspace_id",)),
    ("ix_journal_lines_entry_id", "journal_lines", ("entry_id",)),
    ("ix_leads_workspace_id", "leads", ("workspace_id",)),
    ("ix_leads_workspace_id_id", "leads", ("workspace_id", "id")),
    ("ix_payments_workspace_id", "payments", ("workspace_id",)),
    ("ix_payments_workspace_id_id", "payments", ("workspace_id", "id")),
    ("ix_tasks_workspace_id", "tasks", ("workspace_id",)),
    ("ix_tasks_workspace_id_id", "tasks", ("workspace_id", "id")),
    ("ix_webhook_deliveries_workspace_id", "webhook_deliveries", ("workspace_id",)),
    ("ix_webhook_endpoints_workspace_id", "webhook_endpoints", ("workspace_id",)),
    ("ix_webhook_endpoints_workspace_id_id", "webhook_endpoints", ("workspace_id", "id")),
    ("ix_workflow_runs_workspace_id_id", "workflow_runs", ("workspace_id", "id")),
    ("ix_workflows_workspace_id", "workflows", ("workspace_id",)),
    ("ix_workflows_workspace_id_id", "workflows", ("workspace_id", "id")),
)
INDEXES_AFTER = (
    ("ix_journal_lines_workspace_id_entry_id", "journal_lines", ("workspace_id", "entry_id")),
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _existing_indexes() -> set[str]:
    inspector = sa.inspect(op.get_bind())
    return {ix["name"] for t in OWNED for ix in inspector.get_indexes(t) if ix["name"]}


def _clear_foreign_references() -> None:
    """Optional references to another workspace's row are cleared; required ones stop
    the migration (a deliberate decision is needed; nothing is dropped silently)."""
    bind = op.get_bind()
    for ref in REFS:
        foreign = (
            f"FROM {ref.table} t WHERE t.{ref.column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {ref.target} r WHERE r.id = t.{ref.column} "
            "AND r.workspace_id = t.workspace_id)"
        )
        count = bind.execute(sa.text(f"SELECT count(*) {foreign}")).scalar_one()
        if not count:
            continue
        if ref.required:
            raise RuntimeError(
                f"{count} row(s) of {ref.table} reference a {ref.target} row of another "
                f"workspace through {ref.column}; fix or delete them, then migrate again."
            )
        log.warning(
            "clearing %d cross-workspace reference(s) %s.%s → %s",
            count,
            ref.table,
            ref.column,
            ref.target,
        )
        bind.execute(
            sa.text(
                f"UPDATE {ref.table} SET {ref.column} = NULL WHERE {ref.column} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {ref.target} r WHERE r.id = "
                f"{ref.table}.{ref.column} AND r.workspace_id = {ref.table}.workspace_id)"
            )
        )


# --- PostgreSQL: in place -------------------------------------------------------------


def _pg_drop_foreign_keys(refs: Sequence[Ref]) -> None:
    inspector = sa.inspect(op.get_bind())
    wanted = {(r.table, r.column) for r in refs}
    for table in {r.table for r in refs}:
        for fk in inspector.get_foreign_keys(table):
            cols = tuple(fk["constrained_columns"])
            key = (table, cols[-1])
            if key in wanted and fk["name"]:
                op.drop_constraint(fk["name"], table, type_="foreignkey")


def _pg_upgrade() -> None:
    _pg_drop_foreign_keys(REFS)
    op.drop_constraint("api_tokens_token_hash_key", "api_tokens", type_="unique")
    op.drop_constraint("uq_webhook_deliveries_event", "webhook_deliveries", type_="unique")
    for table, before in OWNED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        columns = ", ".join(("workspace_id", *(c for c in before if c != "workspace_id")))
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({columns})")
    for table, name, columns in UNIQUES_AFTER:
        op.create_unique_constraint(name, table, list(columns))
    for ref in REFS:
        op.create_foreign_key(
            ref.name,
            ref.table,
            ref.target,
            ["workspace_id", ref.column],
            ["workspace_id", "id"],
            ondelete=ref.after,
        )
    existing = _existing_indexes()
    for name, table, _ in INDEXES_BEFORE:
        if name in existing:
            op.drop_index(name, table_name=table)
    for name, table, columns in INDEXES_AFTER:
        op.create_index(name, table, list(columns))


def _pg_downgrade() -> None:
    for ref in REFS:
        op.drop_constraint(ref.name, ref.table, type_="foreignkey")
    for _table, name, _ in UNIQUES_AFTER:
        op.drop_constraint(name, _table, type_="unique")
    for table, before in OWNED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(before)})"
        )
    op.create_unique_constraint("api_tokens_token_hash_key", "api_tokens", ["token_hash"])
    op.create_unique_constraint(
        "uq_webhook_deliveries_event", "webhook_deliveries", ["endpoint_id", "event_id"]
    )
    for ref in REFS:
        op.create_foreign_key(
            f"{ref.table}_{ref.column}_fkey",
            ref.table,
            ref.target,
            [ref.column],
            ["id"],
            ondelete=ref.before,
        )
    for name, table, _ in INDEXES_AFTER:
        op.drop_index(name, table_name=table)
    for name, table, columns in INDEXES_BEFORE:
        op.create_index(name, table, list(columns))


# --- SQLite: rebuild each table -------------------------------------------------------


def _sqlite_rebuild(
    table: str,
    primary_key: Sequence[str],
    foreign_keys: Sequence[str],
    uniques: Sequence[str],
    drop_indexes: set[str],
) -> None:
    """Re-create ``table`` with these table constraints, keeping every column, row (and
    rowid), index (but ``drop_indexes``) and trigger."""
    bind = op.get_bind()
    saved = bind.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = :t "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        ),
        {"t": table},
    ).all()
    columns = sa.Table(table, sa.MetaData(), autoload_with=bind).columns
    replaced = {tuple(c) for t, _, c in (*UNIQUES_BEFORE, *UNIQUES_AFTER) if t == table}
    kept = [
        f"CONSTRAINT {u['name']} UNIQUE ({', '.join(u['column_names'])})"
        if u["name"]
        else f"UNIQUE ({', '.join(u['column_names'])})"
        for u in sa.inspect(bind).get_unique_constraints(table)
        if tuple(u["column_names"]) not in replaced
    ]
    column_ddl = [
        f"{c.name} {c.type.compile(bind.dialect)}{'' if c.nullable else ' NOT NULL'}"
        for c in columns
    ]
    body = ",\n    ".join(
        (
            *column_ddl,
            f"CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(primary_key)})",
            *foreign_keys,
            *kept,
            *uniques,
        )
    )
    names = ", ".join(c.name for c in columns)
    op.execute(f"CREATE TABLE {table}__new (\n    {body}\n)")
    op.execute(f"INSERT INTO {table}__new (rowid, {names}) SELECT rowid, {names} FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}__new RENAME TO {table}")
    for name, sql in saved:
        if name not in drop_indexes:
            op.execute(sql)


def _fk_sql(
    columns: Sequence[str],
    target: str,
    target_columns: Sequence[str],
    ondelete: str | None,
    name: str | None = None,
) -> str:
    head = f"CONSTRAINT {name} " if name else ""
    tail = f" ON DELETE {ondelete}" if ondelete else ""
    return (
        f"{head}FOREIGN KEY({', '.join(columns)}) "
        f"REFERENCES {target} ({', '.join(target_columns)}){tail}"
    )


def _sqlite_upgrade() -> None:
    drop = {name for name, _, _ in INDEXES_BEFORE}
    for table, before in OWNED.items():
        key = ("workspace_id", *(c for c in before if c != "workspace_id"))
        fks = [_fk_sql(["workspace_id"], "workspaces", ["id"], "CASCADE")]
        fks += [
            _fk_sql(["workspace_id", r.column], r.target, ["workspace_id", "id"], r.after, r.name)
            for r in REFS
            if r.table == table
        ]
        uniques = [
            f"CONSTRAINT {name} UNIQUE ({', '.join(columns)})"
            for t, name, columns in UNIQUES_AFTER
            if t == table
        ]
        _sqlite_rebuild(table, key, fks, uniques, drop)
    for name, table, columns in INDEXES_AFTER:
        op.create_index(name, table, list(columns))


def _sqlite_downgrade() -> None:
    drop = {name for name, _, _ in INDEXES_AFTER}
    for table, before in OWNED.items():
        fks = [_fk_sql(["workspace_id"], "workspaces", ["id"], "CASCADE")]
        fks += [_fk_sql([r.column], r.target, ["id"], r.before) for r in REFS if r.table == table]
        uniques = []
        for t, name, columns in UNIQUES_BEFORE:
            if t == table:
                named = f"CONSTRAINT {name} " if name else ""
                uniques.append(f"{named}UNIQUE ({', '.join(columns)})")
        _sqlite_rebuild(table, before, fks, uniques, drop)
    for name, table, columns in INDEXES_BEFORE:
        op.create_index(name, table, list(columns))


def upgrade() -> None:
    _clear_foreign_references()
    if _postgres():
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if _postgres():
        _pg_downgrade()
    else:
        _sqlite_downgrade()
