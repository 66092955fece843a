"""Task queries. Every function takes the caller's ``WorkspaceId`` and filters by it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.erasure import linked_to
from core.pagination import Page, paginate
from core.tasks.models import Task


async def get(session: AsyncSession, ws: WorkspaceId, task_id: str) -> Task | None:
    """The workspace's task with this id, or None (foreign ids too)."""
    stmt = select(Task).where(Task.id == task_id, Task.workspace_id == ws)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_tasks(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    status: str | None,
    assignee: str | None,
    related_type: str | None,
    related_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Task]:
    """Tasks matching every filter given, newest first."""
    stmt = select(Task).where(Task.workspace_id == ws)
    for column, value in (
        (Task.status, status),
        (Task.assignee, assignee),
        (Task.related_type, related_type),
        (Task.related_id, related_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Task.id, limit=limit, cursor=cursor)


async def linked_ids(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> list[str]:
    """Ids of the tasks linked to one of ``records`` (``{related_type: ids}``)."""
    stmt = select(Task.id).where(Task.workspace_id == ws, linked_to(Task, records))
    return list((await session.execute(stmt)).scalars())


async def set_many(
    session: AsyncSession, ws: WorkspaceId, ids: Collection[str], **values: Any
) -> None:
    """Set ``values`` on the tasks with these ids."""
    await session.execute(
        update(Task)
        .where(Task.workspace_id == ws, Task.id.in_(list(ids)))  # type: ignore[attr-defined]
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
