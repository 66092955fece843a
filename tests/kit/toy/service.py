"""The toy domain's rules and queries (one module: it is a toy)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId, utcnow
from core.errors import NotFound
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page, paginate
from tests.kit.toy.models import Widget


async def create(session: AsyncSession, ws: WorkspaceId, name: str) -> Widget:
    widget = Widget(id=new_id("wid"), workspace_id=ws, name=name, created_at=utcnow())
    session.add(widget)
    await session.flush()
    await emit(session, ws, "widget.created", {"id": widget.id, "name": widget.name})
    return widget


async def get(session: AsyncSession, ws: WorkspaceId, widget_id: str) -> Widget:
    stmt = select(Widget).where(Widget.id == widget_id, Widget.workspace_id == ws)
    widget = (await session.execute(stmt)).scalar_one_or_none()
    if widget is None:
        raise NotFound("widget", widget_id)
    return widget


async def page(session: AsyncSession, ws: WorkspaceId, limit: int, cursor: str | None) -> Page:
    stmt = select(Widget).where(Widget.workspace_id == ws)
    return await paginate(session, stmt, Widget.id, limit=limit, cursor=cursor)
