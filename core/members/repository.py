"""Member queries. Memberships and invitations by ``WorkspaceId``; members, sessions and
password resets are global (a person, not a workspace) and are read by id, email or
token hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.members.models import (
    Member,
    MemberInvitation,
    MemberSession,
    Membership,
    PasswordReset,
)
from core.pagination import CURSOR_SCOPE, Page, decode_cursor, encode_cursor
from core.workspaces.models import Workspace


async def member_by_email(session: AsyncSession, email: str) -> Member | None:
    stmt = select(Member).where(Member.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_person(session: AsyncSession, values: dict[str, Any]) -> Member:
    """The person with ``values["email"]``, inserted unless someone (a concurrent
    invitation from another workspace) just did: ``ON CONFLICT DO NOTHING`` on both
    engines, then read back."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(Member).values(**values).on_conflict_do_nothing())
    person = await member_by_email(session, values["email"])
    assert person is not None
    return person


async def member(session: AsyncSession, member_id: str) -> Member | None:
    return await session.get(Member, member_id)


async def membership(session: AsyncSession, ws: WorkspaceId, member_id: str) -> Membership | None:
    return await session.get(Membership, (ws, member_id))


_WORKSPACES_OF = sa.text("SELECT * FROM patchbay_member_workspaces(:member_id)")
"""PostgreSQL: through the ``SECURITY DEFINER`` function of migration 0010 (row-level
security hides memberships from a session bound to no workspace)."""


async def workspaces_of(session: AsyncSession, member_id: str) -> list[sa.Row[Any]]:
    """``(workspace_id, role, workspace_name)`` of every workspace the member is active
    in, before any workspace is chosen (after sign-in)."""
    if session.get_bind().dialect.name == "postgresql":
        return list((await session.execute(_WORKSPACES_OF, {"member_id": member_id})).all())
    memberships = Membership.__table__  # type: ignore[attr-defined]
    workspaces = Workspace.__table__  # type: ignore[attr-defined]
    stmt = (
        sa.select(memberships.c.workspace_id, memberships.c.role,
                  workspaces.c.name.label("workspace_name"))
        .join(workspaces, workspaces.c.id == memberships.c.workspace_id)
        .where(memberships.c.member_id == member_id, memberships.c.status == "active")
        .order_by(workspaces.c.name, memberships.c.workspace_id)
    )  # fmt: skip
    return list((await session.execute(stmt)).all())


async def count_owners(session: AsyncSession, ws: WorkspaceId) -> int:
    """Active owners of the workspace."""
    stmt = (
        select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.workspace_id == ws,
            Membership.role == "owner",
            Membership.status == "active",
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def list_members(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    role: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[dict[str, Any]]:
    """One page of the workspace's members (membership joined with the person), newest
    member id first."""
    scope = f"{session.info.get(CURSOR_SCOPE, '')}|memberships.member_id desc"
    stmt = (
        select(Membership, Member.email, Member.name)
        .join(Member, Member.id == Membership.member_id)
        .where(Membership.workspace_id == ws)
    )
    if role is not None:
        stmt = stmt.where(Membership.role == role)
    if status is not None:
        stmt = stmt.where(Membership.status == status)
    if cursor:
        stmt = stmt.where(Membership.member_id < decode_cursor(cursor, scope))
    stmt = stmt.order_by(Membership.member_id.desc()).limit(limit + 1)  # type: ignore[attr-defined]
    rows = list((await session.execute(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {**m.model_dump(), "id": m.member_id, "email": email, "name": name}
        for m, email, name in rows
    ]
    return Page(items, encode_cursor(rows[-1][0].member_id, scope) if more and rows else None)


async def open_invitations(
    session: AsyncSession, ws: WorkspaceId, member_id: str
) -> list[MemberInvitation]:
    """The member's unused, unrevoked invitations to ``ws``."""
    stmt = select(MemberInvitation).where(
        MemberInvitation.workspace_id == ws,
        MemberInvitation.member_id == member_id,
        MemberInvitation.used_at.is_(None),  # type: ignore[union-attr]
        MemberInvitation.revoked_at.is_(None),  # type: ignore[union-attr]
    )
    return list((await session.execute(stmt)).scalars())


async def invitation_by_hash(
    session: AsyncSession, ws: WorkspaceId, token_hash: str
) -> MemberInvitation | None:
    stmt = select(MemberInvitation).where(
        MemberInvitation.workspace_id == ws, MemberInvitation.token_hash == token_hash
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def reset_by_hash(session: AsyncSession, token_hash: str) -> PasswordReset | None:
    stmt = select(PasswordReset).where(PasswordReset.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def session_by_hash(session: AsyncSession, session_hash: str) -> MemberSession | None:
    stmt = select(MemberSession).where(MemberSession.session_hash == session_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_sessions(session: AsyncSession, member_id: str, at: datetime) -> None:
    """Revoke every live session of the member (after a password change)."""
    await session.execute(
        sa.update(MemberSession)
        .where(
            MemberSession.member_id == member_id,
            MemberSession.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .values(revoked_at=at)
    )


async def use_resets(session: AsyncSession, member_id: str, at: datetime) -> None:
    """Mark every pending reset link of the member used (one reset voids the others)."""
    await session.execute(
        sa.update(PasswordReset)
        .where(
            PasswordReset.member_id == member_id,
            PasswordReset.used_at.is_(None),  # type: ignore[union-attr]
        )
        .values(used_at=at)
    )
