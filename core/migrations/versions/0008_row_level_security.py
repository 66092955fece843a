"""row-level security: the application role, a tenant policy on every owned table

PostgreSQL only (SQLite is the embedded single-process default; nothing changes there).

- Role ``patchbay_app`` (NOLOGIN, not a superuser, no BYPASSRLS, owns nothing): the
  application connects as its login role and runs as this one (``SET ROLE``, see
  ``core.db.create_engine``); the login role running this migration is made a member.
- Every workspace-owned table: ``ENABLE ROW LEVEL SECURITY`` and the ``tenant_isolation``
  policy (``workspace_id = current_setting('patchbay.workspace_id', true)``, reading and
  writing), see ``core/migrations/tenancy.py``. The tables stay owned by the migration
  role, which the policies do not bind: ``FORCE`` is not needed because the application
  never runs as the owner.
- The paths that must work before a workspace is known, as ``SECURITY DEFINER``
  functions the application role may execute, each as narrow as its job:
  ``patchbay_authenticate`` (one token, by id and secret hash, with its workspace),
  ``patchbay_workspace_of`` (the workspace of a record given by id alone: the operator's
  command line, e.g. revoking a token by id),
  ``patchbay_claim_<job table>`` (lease due rows of that table, all of one workspace) and
  ``patchbay_purge_idempotency`` (delete expired idempotency records).
- ``<table>_search`` views for free-text search (``core/migrations/tenancy.py`` says why).

Revision ID: 0008_row_level_security
Revises: 0007_tenant_keys
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from core.migrations.tenancy import (
    APP_ROLE,
    create_claim_function,
    create_search_view,
    disable_tenant_isolation,
    drop_claim_function,
    drop_search_view,
    enable_tenant_isolation,
)

revision: str = "0008_row_level_security"
down_revision: str | Sequence[str] | None = "0007_tenant_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = (
    "accounting_accounts",
    "activities",
    "api_tokens",
    "audit_log",
    "companies",
    "contacts",
    "deal_stages",
    "deals",
    "domain_events",
    "idempotency_keys",
    "integration_event_types",
    "invoices",
    "journal_entries",
    "journal_lines",
    "leads",
    "payments",
    "tasks",
    "webhook_deliveries",
    "webhook_endpoints",
    "workflow_daily_usage",
    "workflow_runs",
    "workflows",
)

SEARCHABLE = ("contacts", "companies", "leads", "activities")
JOB_TABLES = {  # job table: its ready statuses (the queue's)
    "workflow_runs": ("queued", "running"),
    "webhook_deliveries": ("pending", "retrying"),
}

FUNCTIONS = {
    "patchbay_authenticate(text, text)": """
CREATE FUNCTION patchbay_authenticate(p_token_id text, p_token_hash text)
RETURNS TABLE (
    token_hash varchar, revoked_at timestamp, expires_at timestamp, name varchar,
    scopes jsonb, abilities jsonb, rate_limit_per_minute integer,
    last_used_at timestamp, created_at timestamp, workspace_id varchar,
    workspace_name varchar, workspace_status varchar, plan varchar, enabled_modules jsonb
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
DECLARE
    ws varchar;
BEGIN
    -- PL/pgSQL keeps these plans (an SQL function would plan on every call); the caller's
    -- transaction is bound to the token's workspace (the gate would set it next anyway)
    SELECT t.workspace_id INTO ws FROM api_tokens t
    WHERE t.id = p_token_id AND t.token_hash = p_token_hash;
    IF ws IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('patchbay.workspace_id', ws, true);
    RETURN QUERY
    SELECT t.token_hash, t.revoked_at, t.expires_at, t.name, t.scopes::jsonb,
           t.abilities::jsonb, t.rate_limit_per_minute, t.last_used_at, t.created_at,
           w.id, w.name, w.status, w.plan, w.enabled_modules::jsonb
    FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
    WHERE t.workspace_id = ws AND t.id = p_token_id;
END
$$""",
    "patchbay_workspace_of(regclass, text)": """
CREATE FUNCTION patchbay_workspace_of(p_table regclass, p_id text) RETURNS varchar
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    found varchar;
BEGIN
    -- only workspace-owned tables keyed by id: the answer is a workspace id, nothing else
    IF (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = p_table AND NOT a.attisdropped
        AND a.attname IN ('workspace_id', 'id')) <> 2 THEN
        RAISE EXCEPTION 'patchbay_workspace_of: % has no workspace_id and id', p_table;
    END IF;
    EXECUTE format('SELECT workspace_id FROM %s WHERE id = $1 LIMIT 1', p_table)
        INTO found USING p_id;
    RETURN found;
END
$$""",
    "patchbay_purge_idempotency(timestamp)": """
CREATE FUNCTION patchbay_purge_idempotency(p_now timestamp) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at <= p_now RETURNING 1)
    SELECT count(*) FROM gone
$$""",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END $$"""
    )
    is_superuser = bind.exec_driver_sql(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ).scalar()
    if not is_superuser:  # a superuser may SET ROLE to any role already
        op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON workspaces TO {APP_ROLE}")
    for table in OWNED:
        enable_tenant_isolation(op.execute, table, dialect="postgresql")
    # tables later migrations create are usable by the application (their migration
    # still turns on row-level security with enable_tenant_isolation)
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    for table in SEARCHABLE:  # free-text search through the trigram index (core.search)
        create_search_view(op.execute, table, dialect="postgresql")
    for table, ready in JOB_TABLES.items():
        create_claim_function(op.execute, table, ready, dialect="postgresql")
    for signature, definition in FUNCTIONS.items():
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
        op.execute(definition)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for table in SEARCHABLE:
        drop_search_view(op.execute, table, dialect="postgresql")
    for table in JOB_TABLES:
        drop_claim_function(op.execute, table, dialect="postgresql")
    for table in OWNED:
        disable_tenant_isolation(op.execute, table, dialect="postgresql")
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON workspaces FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    # the role itself stays: it is cluster-wide and other databases may use it
