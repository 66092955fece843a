"""reference conformance: the REST kill switch, the audit log's request path, task statuses

Additive only (PostgreSQL also re-creates ``patchbay_authenticate``, migration 0008, to
return the new flag): ``workspaces.rest_api_enabled`` (per-workspace REST kill switch, default
on), ``audit_log.path`` (the endpoint URL of a REST request, for look-ups by path), and a
data update renaming the task statuses ``done``/``cancelled`` to the reference API's
``completed``/``canceled`` (the old names stay accepted as deprecated aliases).

Revision ID: 0009_reference_conformance
Revises: 0008_row_level_security
Create Date: 2026-12-02 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_reference_conformance"
down_revision: str | Sequence[str] | None = "0008_row_level_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_AUTHENTICATE = """
CREATE FUNCTION patchbay_authenticate(p_token_id text, p_token_hash text)
RETURNS TABLE (
    token_hash varchar, revoked_at timestamp, expires_at timestamp, name varchar,
    scopes jsonb, abilities jsonb, rate_limit_per_minute integer,
    last_used_at timestamp, created_at timestamp, workspace_id varchar,
    workspace_name varchar, workspace_status varchar, plan varchar, enabled_modules jsonb{extra}
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
           w.id, w.name, w.status, w.plan, w.enabled_modules::jsonb{extra_column}
    FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
    WHERE t.workspace_id = ws AND t.id = p_token_id;
END
$$"""


def _authenticate_function(*, with_flag: bool) -> None:
    """(Re-)create ``patchbay_authenticate`` with or without ``rest_api_enabled``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    signature = "patchbay_authenticate(text, text)"
    op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute(
        _AUTHENTICATE.format(
            extra=", rest_api_enabled boolean" if with_flag else "",
            extra_column=", w.rest_api_enabled" if with_flag else "",
        )
    )
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO patchbay_app")


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column("rest_api_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    op.execute("UPDATE tasks SET status = 'completed' WHERE status = 'done'")
    op.execute("UPDATE tasks SET status = 'canceled' WHERE status = 'cancelled'")
    _authenticate_function(with_flag=True)


def downgrade() -> None:
    _authenticate_function(with_flag=False)
    op.execute("UPDATE tasks SET status = 'done' WHERE status = 'completed'")
    op.execute("UPDATE tasks SET status = 'cancelled' WHERE status = 'canceled'")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("path")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("rest_api_enabled")
