"""The members tables.

- ``members`` is GLOBAL: a person (email + argon2 password hash) may belong to several
  workspaces, so the row belongs to no workspace (no ``workspace_id``, no row-level
  security; listed in ``tests/test_tenant_keys.py``'s ``GLOBAL_TABLES``).
- ``memberships`` and ``member_invitations`` are workspace-owned (``(workspace_id, …)``
  keys, the tenant filter and row-level security): who is in a workspace, with which role,
  and the invitations a workspace sent.
- ``member_sessions`` and ``password_resets`` are GLOBAL: they belong to a person, not to
  a workspace (a session signs a person in; the workspace is chosen afterwards).

No secret is stored in clear: passwords as argon2 hashes, invitation, reset and session
tokens as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_pk, tenant_unique, workspace_fk


class Member(SQLModel, table=True):
    """A person (global). ``password_hash`` is None until they accept an invitation."""

    __tablename__ = "members"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    name: str | None = Field(default=None, max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Membership(SQLModel, WorkspaceOwned, table=True):
    """A person's role in one workspace; ``status`` invited until they accept."""

    __tablename__ = "memberships"
    __table_args__ = (
        tenant_pk("memberships", "member_id"),
        sa.Index("ix_memberships_member_id", "member_id"),
    )

    workspace_id: str = workspace_fk()
    member_id: str = Field(
        primary_key=True, max_length=40, foreign_key="members.id", ondelete="CASCADE"
    )
    role: str = Field(max_length=20)
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class MemberInvitation(SQLModel, WorkspaceOwned, table=True):
    """A single-use invitation link (7 days): only the token's SHA-256 is kept."""

    __tablename__ = "member_invitations"
    __table_args__ = (
        tenant_pk("member_invitations"),
        tenant_unique("member_invitations", "token_hash"),
        sa.Index("ix_member_invitations_workspace_id_member_id", "workspace_id", "member_id"),
    )

    workspace_id: str = workspace_fk()
    id: str = Field(primary_key=True, max_length=40)
    member_id: str = Field(max_length=40, foreign_key="members.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MemberSession(SQLModel, table=True):
    """A signed-in browser (global): 12 h idle, 30 days absolute, revocable."""

    __tablename__ = "member_sessions"
    __table_args__ = (sa.Index("ix_member_sessions_member_id", "member_id"),)

    id: str = Field(primary_key=True, max_length=40)
    member_id: str = Field(max_length=40, foreign_key="members.id", ondelete="CASCADE")
    session_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """A single-use password reset link (1 hour, global): only the token's SHA-256."""

    __tablename__ = "password_resets"
    __table_args__ = (sa.Index("ix_password_resets_member_id", "member_id"),)

    id: str = Field(primary_key=True, max_length=40)
    member_id: str = Field(max_length=40, foreign_key="members.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
