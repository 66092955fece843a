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


def create_search_view(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """``<table>_search``: every column of ``table``, the current workspace's rows, for
    free-text search (``core.search``; PostgreSQL only).

    Under row-level security the planner will not use ``search_text ILIKE …`` (not a
    leakproof operator) as a trigram index condition, and search would scan the whole
    workspace. The view runs as its owner (to whom the policy does not apply) and filters
    by the same setting itself, so a searched page still sees one workspace only, through
    the index. It is not a security barrier: the ILIKE may be evaluated on other
    workspaces' rows before the filter, which has no visible effect (no error, no output).

    ``*`` is expanded when the view is created: a migration that adds a column to a
    searchable table calls this again (``tests/test_row_level_security.py`` checks that
    every view has every column of its table)."""
    if dialect != "postgresql":
        return
    execute(
        f"CREATE OR REPLACE VIEW {table}_search AS SELECT * "
        f"FROM {table} WHERE workspace_id = current_setting('{TENANT_SETTING}', true)"
    )
    execute(f"GRANT SELECT ON {table}_search TO {APP_ROLE}")


def drop_search_view(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """Undo ``create_search_view``."""
    if dialect == "postgresql":
        execute(f"DROP VIEW IF EXISTS {table}_search")


def create_claim_function(
    execute: Callable[[str], Any], table: str, ready_statuses: tuple[str, ...], *, dialect: str
) -> None:
    """``patchbay_claim_<table>(worker, now, lease_until, limit)``: of the earliest
    ``limit`` due rows of the job table ``table`` (``core.jobs.JobFields``), lease those
    of the first row's workspace and return ``(id, workspace_id, attempts)``. One scan of
    the due index (a second scan for "that workspace's next rows" cost about a sixth
    more database CPU per workflow run: 0.48 against 0.41 ms in ``bench.workflows``);
    rows of other workspaces among the candidates stay unleased for the next claim, which
    also keeps one busy workspace from filling every batch.

    The claim is the one query that looks across workspaces, which row-level security
    forbids the application role: this ``SECURITY DEFINER`` function (PostgreSQL only) is
    the narrow path, and can do nothing but lease due rows of its one table. Static SQL
    with the ready statuses inlined, so PL/pgSQL keeps its plan (the partial due index)
    across calls instead of planning every claim."""
    if dialect != "postgresql":
        return
    statuses = ", ".join(f"'{s}'" for s in ready_statuses)
    due = (
        f"t.status IN ({statuses}) AND t.run_after <= p_now "
        "AND (t.lease_until IS NULL OR t.lease_until < p_now)"
    )
    execute(f"DROP FUNCTION IF EXISTS patchbay_claim_{table}(text, timestamp, timestamp, integer)")
    execute(
        f"""
CREATE FUNCTION patchbay_claim_{table}(
    p_worker text, p_now timestamp, p_lease_until timestamp, p_limit integer
) RETURNS TABLE (id varchar, workspace_id varchar, attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN QUERY
    WITH candidates AS (
        SELECT t.workspace_id, t.id, t.run_after FROM {table} t WHERE {due}
        ORDER BY t.run_after, t.id LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), first AS (
        SELECT c.workspace_id FROM candidates c ORDER BY c.run_after, c.id LIMIT 1
    )
    UPDATE {table} t SET lease_until = p_lease_until, locked_by = p_worker,
        attempts = t.attempts + 1
    FROM candidates c JOIN first f ON c.workspace_id = f.workspace_id
    WHERE t.workspace_id = c.workspace_id AND t.id = c.id
    RETURNING t.id, t.workspace_id, t.attempts;
END
$$"""
    )
    signature = f"patchbay_claim_{table}(text, timestamp, timestamp, integer)"
    execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def drop_claim_function(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """Undo ``create_claim_function``."""
    if dialect == "postgresql":
        signature = f"patchbay_claim_{table}(text, timestamp, timestamp, integer)"
        execute(f"DROP FUNCTION IF EXISTS {signature}")


def disable_tenant_isolation(execute: Callable[[str], Any], table: str, *, dialect: str) -> None:
    """Undo ``enable_tenant_isolation``."""
    if dialect != "postgresql":
        return
    execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
