"""Workspace queries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.workspaces.models import Workspace


async def get(session: AsyncSession, workspace_id: str) -> Workspace | None:
    """The workspace with this id, or None."""
    return await session.get(Workspace, workspace_id)


async def list_all(session: AsyncSession) -> list[Workspace]:
    """Every workspace, oldest first (operator use only)."""
    return list((await session.execute(select(Workspace).order_by(Workspace.id))).scalars())
