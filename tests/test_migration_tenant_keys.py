"""Migration 0007 (tenant keys) on a populated database, both engines, up and down.

Two workspaces get a row in every workspace-owned table (references point within the
workspace), plus one optional reference across workspaces; after the upgrade every row
is still there (and SQLite's search index still finds them), the cross-workspace link
is cleared, and the database refuses new cross-workspace references. A required
cross-workspace reference stops the migration without changing anything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from core.migrate import alembic_config
from tests.test_migrations import current_heads, inspect_database

BEFORE, AFTER = "0006_merge_domains", "0007_tenant_keys"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).replace(tzinfo=None)

REFERENCES = {  # column → table it points at
    "company_id": "companies",
    "contact_id": "contacts",
    "deal_id": "deals",
    "converted_contact_id": "contacts",
    "converted_company_id": "companies",
    "converted_deal_id": "deals",
    "invoice_id": "invoices",
    "entry_id": "journal_entries",
    "account_id": "accounting_accounts",
    "endpoint_id": "webhook_endpoints",
    "workflow_id": "workflows",
}


def _value(table: str, column: sa.Column[Any], workspace: str) -> Any:
    name = column.name
    if name == "workspace_id":
        return workspace
    if name in REFERENCES:
        return f"{REFERENCES[name]}_{workspace}"
    if name == "id":
        return f"{table}_{workspace}"
    if name == "search_text":
        return f"needle{workspace} findme"
    if name == "day":
        return "2026-11-30"
    kind = column.type
    if isinstance(kind, sa.JSON):
        return []
    if isinstance(kind, sa.DateTime):
        return NOW
    if isinstance(kind, sa.Date):
        return date(2026, 11, 30)
    if isinstance(kind, sa.Integer | sa.BigInteger | sa.Numeric):
        return 0
    if isinstance(kind, sa.Boolean):
        return False
    length = getattr(kind, "length", None) or 40
    return f"{name}-{workspace}"[-length:]


def _populate(conn: sa.Connection) -> dict[str, int]:
    """Two workspaces, one row each in every owned table; returns the row counts."""
    metadata = sa.MetaData()
    metadata.reflect(conn)
    for ws in ("wa", "wb"):
        conn.execute(
            sa.text(
                "INSERT INTO workspaces (id, name, plan, status, enabled_modules, created_at, "
                "updated_at) VALUES (:id, :id, 'pro', 'active', '[]', :now, :now)"
            ),
            {"id": ws, "now": NOW},
        )
    owned = [
        t
        for t in metadata.sorted_tables
        if "workspace_id" in t.c and not t.name.endswith(("_fts", "_data", "_idx"))
    ]
    for table in owned:
        for ws in ("wa", "wb"):
            row = {c.name: _value(table.name, c, ws) for c in table.columns}
            conn.execute(table.insert().values(**row))
    # an optional link across workspaces: cleared by the upgrade
    conn.execute(
        sa.text("UPDATE contacts SET company_id = 'companies_wb' WHERE id = 'contacts_wa'")
    )
    return _counts(conn, [t.name for t in owned])


def _counts(conn: sa.Connection, tables: list[str]) -> dict[str, int]:
    return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def _run(url: str, fn: Any) -> Any:
    """``fn(conn)`` in a committed transaction as the login role (the owner)."""

    def wrapped(conn: sa.Connection) -> Any:
        result = fn(conn)
        conn.commit()
        return result

    return inspect_database(url, wrapped)


def test_populated_database_upgrades_and_downgrades(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, BEFORE)
    before = _run(empty_database, _populate)
    assert len(before) >= 22 and all(n == 2 for n in before.values())

    command.upgrade(config, AFTER)
    assert _run(empty_database, lambda c: _counts(c, list(before))) == before
    company = _run(
        empty_database,
        lambda c: c.execute(sa.text("SELECT company_id FROM contacts ORDER BY id")).all(),
    )
    assert [r[0] for r in company] == [None, "companies_wb"]  # the foreign link is gone
    if empty_database.startswith("sqlite"):  # the FTS index still points at the right rows
        found = _run(
            empty_database,
            lambda c: c.execute(
                sa.text(
                    "SELECT c.id FROM contacts_fts f JOIN contacts c ON c.rowid = f.rowid "
                    "WHERE contacts_fts MATCH 'needlewb'"
                )
            ).all(),
        )
        assert [r[0] for r in found] == ["contacts_wb"]

    def cross_reference(conn: sa.Connection) -> None:
        conn.execute(sa.text("UPDATE deals SET company_id = 'companies_wb' WHERE id = 'deals_wa'"))

    with pytest.raises(sa.exc.IntegrityError):
        _run(empty_database, cross_reference)

    command.downgrade(config, BEFORE)
    assert _run(empty_database, lambda c: _counts(c, list(before))) == before
    assert _run(empty_database, current_heads) == {BEFORE}
    _run(empty_database, cross_reference)  # before 0007 the database allowed it

    command.upgrade(config, AFTER)  # and up again, with that link cleared
    assert _run(empty_database, lambda c: _counts(c, list(before))) == before


def test_a_required_cross_workspace_reference_stops_the_upgrade(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, BEFORE)
    before = _run(empty_database, _populate)
    _run(
        empty_database,
        lambda c: c.execute(
            sa.text("UPDATE payments SET invoice_id = 'invoices_wb' WHERE id = 'payments_wa'")
        ),
    )
    with pytest.raises(RuntimeError, match="payments"):
        command.upgrade(config, AFTER)
    assert _run(empty_database, current_heads) == {BEFORE}
    assert _run(empty_database, lambda c: _counts(c, list(before))) == before
