"""Workspace queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.workspaces.models import Workspace


async def get(session: AsyncSession, workspace_id: str) -> Workspace | None:
    """The workspace with this id, or None."""
    return await session.get(Workspace, workspace_id)


async def list_all(session: AsyncSession) -> list[Workspace]:
    """Every workspace, oldest first (operator use only)."""
    return list((await session.execute(select(Workspace).order_by(Workspace.id))).scalars())


async def lock(session: AsyncSession, workspace_id: str, now: datetime) -> None:
    """Write-lock the workspace's row until commit (bumping ``updated_at``): writers that
    check a per-workspace limit (active tokens) queue behind each other."""
    await session.execute(
        update(Workspace).where(Workspace.id == workspace_id).values(updated_at=now)
    )
