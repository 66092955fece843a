"""Row-level security for workspace-owned tables (PostgreSQL), for migrations.

Every workspace-owned table carries one policy, ``tenant_isolation``: a row is visible
and writable only when its ``workspace_id`` equals the transaction-local setting
``patchbay.workspace_id`` (``core.db.use_tenant`` sets it; unset, nothing matches). The
application's role (``patchbay_app``) does not own the tables, so the policy applies to
it; the owner (the migration role) is exempt, which is what the few ``SECURITY DEFINER``
functions of migration 0008 rely on. A domain's migration calls
``enable_tenant_isolation`` for each table it creates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.db import APP_ROLE, TENANT_SETTING

POLICY = "tenant_isolation"


def enable_tenant_isolation(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """Turn on row-level security for ``table`` and let the application role use it
    (no-op on SQLite, a single-tenant-per-process embedded database)."""
    if dialect != "postgresql":
        return
    condition = f"workspace_id = current_setting('{TENANT_SETTING}', true)"
    execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    execute(
        f"CREATE POLICY {POLICY} ON {table} TO {APP_ROLE} "
        f"USING ({condition}) WITH CHECK ({condition})"
    )
    execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")


def disable_tenant_isolation(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """Undo ``enable_tenant_isolation``."""
    if dialect != "postgresql":
        return
    execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
