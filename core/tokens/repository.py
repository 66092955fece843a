"""Token queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace


async def get_unscoped(session: AsyncSession, token_id: str) -> ApiToken | None:
    """Look a token up by id before any workspace is known (authentication only)."""
    return await session.get(ApiToken, token_id)


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
    )
    .join(_workspaces, _workspaces.c.id == _tokens.c.workspace_id)
    .where(_tokens.c.id == sa.bindparam("token_id"))
)
"""Built once: authentication runs on every call, so no per-call statement building."""


async def credentials(session: AsyncSession, token_id: str) -> sa.Row[Any] | None:
    """A token's secret hash, state and grants with its workspace, in one query, before
    any workspace is known (authentication only)."""
    return (await session.execute(_CREDENTIALS, {"token_id": token_id})).first()


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


async def list_for_workspace(session: AsyncSession, workspace_id: WorkspaceId) -> list[ApiToken]:
    """Every token of the workspace, newest first."""
    stmt = (
        select(ApiToken).where(ApiToken.workspace_id == workspace_id).order_by(ApiToken.id.desc())
    )  # type: ignore[union-attr]
    return list((await session.execute(stmt)).scalars())
