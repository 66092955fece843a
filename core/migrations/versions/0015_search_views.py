"""search views with every column: a searched page is read from the view in one query

Migration 0008's ``<table>_search`` views held ``(workspace_id, id, search_text)`` and
search joined them back to the table by id; a list's other filters (a contact's
company, a lead's status or custom field) named columns the view did not have. The
views now select every column (``core.migrations.tenancy.create_search_view``).

Revision ID: 0015_search_views
Revises: 0014_dashboard
"""

from collections.abc import Sequence

from alembic import op

from core.db import APP_ROLE, TENANT_SETTING
from core.migrations.tenancy import create_search_view

revision: str = "0015_search_views"
down_revision: str | Sequence[str] | None = "0014_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHABLE_TABLES = ("contacts", "companies", "leads", "activities")
"""As of this revision (a later searchable table creates its own view)."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in SEARCHABLE_TABLES:
        op.execute(f"DROP VIEW IF EXISTS {table}_search")
        create_search_view(op.execute, table, dialect="postgresql")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in SEARCHABLE_TABLES:
        op.execute(f"DROP VIEW IF EXISTS {table}_search")
        op.execute(
            f"CREATE VIEW {table}_search AS SELECT workspace_id, id, search_text FROM {table} "
            f"WHERE workspace_id = current_setting('{TENANT_SETTING}', true)"
        )
        op.execute(f"GRANT SELECT ON {table}_search TO {APP_ROLE}")
