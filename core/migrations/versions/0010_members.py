"""members: people (global), memberships and invitations (workspace-owned, row-level
security), sessions and password resets (global: they belong to a person)

Revision ID: 0010_members
Revises: 0009_reference_conformance
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db
from core.db import APP_ROLE
from core.migrations.tenancy import disable_tenant_isolation, enable_tenant_isolation

revision: str = "0010_members"
down_revision: str | Sequence[str] | None = "0009_reference_conformance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("memberships", "member_invitations")

WORKSPACES_OF = "patchbay_member_workspaces(text)"
"""PostgreSQL: a person's active memberships across workspaces, before any workspace is
chosen (after sign-in: the workspace switcher). Row-level security hides every
membership from a session bound to no workspace; this narrow ``SECURITY DEFINER``
function answers only the given member's (workspace, role) pairs."""

WORKSPACES_OF_SQL = """
CREATE FUNCTION patchbay_member_workspaces(p_member_id text)
RETURNS TABLE (workspace_id varchar, role varchar, workspace_name varchar)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.workspace_id, m.role, w.name
    FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
    WHERE m.member_id = p_member_id AND m.status = 'active'
    ORDER BY w.name, m.workspace_id
$$"""


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("email", _str(320), nullable=False),
        sa.Column("name", _str(200), nullable=True),
        sa.Column("password_hash", _str(200), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "memberships",
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("member_id", _str(40), nullable=False),
        sa.Column("role", _str(20), nullable=False),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "member_id", name="memberships_pkey"),
    )
    op.create_index("ix_memberships_member_id", "memberships", ["member_id"])
    op.create_table(
        "member_invitations",
        sa.Column("workspace_id", _str(40), nullable=False),
        sa.Column("id", _str(40), nullable=False),
        sa.Column("member_id", _str(40), nullable=False),
        sa.Column("token_hash", _str(64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name="member_invitations_pkey"),
        sa.UniqueConstraint("workspace_id", "token_hash", name="uq_member_invitations_token_hash"),
    )
    op.create_index(
        "ix_member_invitations_workspace_id_member_id",
        "member_invitations",
        ["workspace_id", "member_id"],
    )
    op.create_table(
        "member_sessions",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("member_id", _str(40), nullable=False),
        sa.Column("session_hash", _str(64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_hash"),
    )
    op.create_index("ix_member_sessions_member_id", "member_sessions", ["member_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("member_id", _str(40), nullable=False),
        sa.Column("token_hash", _str(64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_password_resets_member_id", "password_resets", ["member_id"])
    dialect = op.get_bind().dialect.name
    for table in OWNED:
        enable_tenant_isolation(op.execute, table, dialect=dialect)
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {WORKSPACES_OF}")
        op.execute(WORKSPACES_OF_SQL)
        op.execute(f"REVOKE ALL ON FUNCTION {WORKSPACES_OF} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {WORKSPACES_OF} TO {APP_ROLE}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {WORKSPACES_OF}")
    for table in OWNED:
        disable_tenant_isolation(op.execute, table, dialect=dialect)
    op.drop_index("ix_password_resets_member_id", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index("ix_member_sessions_member_id", table_name="member_sessions")
    op.drop_table("member_sessions")
    op.drop_index("ix_member_invitations_workspace_id_member_id", table_name="member_invitations")
    op.drop_table("member_invitations")
    op.drop_index("ix_memberships_member_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("members")
