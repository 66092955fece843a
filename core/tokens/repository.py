"""Token queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace


async def get_unscoped(session: AsyncSession, token_id: str) -> ApiToken | None:
    """Look a token up by id before any workspace is known (authentication only)."""
    return await session.get(ApiToken, token_id)


async def get_with_workspace(
    session: AsyncSession, token_id: str
) -> tuple[ApiToken, Workspace] | None:
    """A token and its workspace in one query, before any workspace is known (authentication)."""
    stmt = (
        select(ApiToken, Workspace)
        .join(Workspace, Workspace.id == ApiToken.workspace_id)  # type: ignore[arg-type]
        .where(ApiToken.id == token_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else None


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
