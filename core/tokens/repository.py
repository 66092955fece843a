"""Token queries: by ``WorkspaceId``, except those that run before any workspace is
known (authentication, operator revocation, the audit writer's use stamps)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import UTCDateTime, WorkspaceId
from core.pagination import Page, paginate
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace

_tokens = ApiToken.__table__  # type: ignore[attr-defined]
_workspaces = Workspace.__table__  # type: ignore[attr-defined]
_CREDENTIALS = (
    sa.select(
        _tokens.c.token_hash,
        _tokens.c.revoked_at,
        _tokens.c.expires_at,
        _tokens.c.name,
        _tokens.c.scopes,
        _tokens.c.abilities,
        _tokens.c.rate_limit_per_minute,
        _tokens.c.last_used_at,
        _tokens.c.created_at,
        _workspaces.c.id.label("workspace_id"),
        _workspaces.c.name.label("workspace_name"),
        _workspaces.c.status.label("workspace_status"),
        _workspaces.c.plan,
        _workspaces.c.enabled_modules,
        _workspaces.c.rest_api_enabled,
    )
    .join(_workspaces, _workspaces.c.id == _tokens.c.workspace_id)
    .where(_tokens.c.id == sa.bindparam("token_id"))
)
"""Built once: authentication runs on every call, so no per-call statement building."""

_TOUCH_MANY = (
    sa.update(_tokens)
    .where(_tokens.c.id == sa.bindparam("b_token"))
    .values(last_used_at=sa.bindparam("b_at", type_=UTCDateTime()))
)


async def credentials(session: AsyncSession, token_id: str) -> sa.Row[Any] | None:
    """A token's secret hash, state and grants with its workspace, in one query, before
    any workspace is known (authentication only)."""
    return (await session.execute(_CREDENTIALS, {"token_id": token_id})).first()


async def get_unscoped(session: AsyncSession, token_id: str) -> ApiToken | None:
    """Look a token up by id whatever its workspace (operator revocation only)."""
    return await session.get(ApiToken, token_id)


async def get(session: AsyncSession, workspace_id: WorkspaceId, token_id: str) -> ApiToken | None:
    """The workspace's token with this id, or None."""
    token = await session.get(ApiToken, token_id)
    return token if token is not None and token.workspace_id == workspace_id else None


async def count_active(session: AsyncSession, workspace_id: WorkspaceId, now: datetime) -> int:
    """Tokens of the workspace that are neither revoked nor expired."""
    stmt = (
        select(func.count())
        .select_from(ApiToken)
        .where(
            ApiToken.workspace_id == workspace_id,
            ApiToken.revoked_at.is_(None),  # type: ignore[union-attr]
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),  # type: ignore[union-attr,operator]
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def list_tokens(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    include_revoked: bool,
    limit: int,
    cursor: str | None,
) -> Page[ApiToken]:
    """One page of the workspace's tokens, newest first."""
    stmt = select(ApiToken).where(ApiToken.workspace_id == workspace_id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    return await paginate(session, stmt, ApiToken.id, limit=limit, cursor=cursor)


async def list_for_workspace(session: AsyncSession, workspace_id: WorkspaceId) -> list[ApiToken]:
    """Every token of the workspace, newest first (the command line's list)."""
    stmt = (
        select(ApiToken).where(ApiToken.workspace_id == workspace_id).order_by(ApiToken.id.desc())
    )  # type: ignore[union-attr]
    return list((await session.execute(stmt)).scalars())


async def touch(session: AsyncSession, token_id: str, at: datetime) -> None:
    """Set the token's ``last_used_at``."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


async def touch_many(session: AsyncSession, uses: Mapping[str, datetime]) -> None:
    """Set ``last_used_at`` of several tokens (token id → when) in one statement."""
    if uses:
        await session.execute(_TOUCH_MANY, [{"b_token": t, "b_at": at} for t, at in uses.items()])
