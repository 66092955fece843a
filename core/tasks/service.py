"""Task rules and queries. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId, utcnow
from core.erasure import ERASED_TEXT, linked_to, scrub_copies
from core.errors import NotFound
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page, paginate
from core.related import check_related
from core.tasks.models import Task, TaskPublic

CLOSED = ("done", "cancelled")
TASK_EVENTS = ("task.created", "task.updated", "task.completed")


def _public(task: Task) -> dict[str, Any]:
    return TaskPublic.model_validate(task).model_dump(mode="json", exclude_none=True)


async def get_task(session: AsyncSession, ws: WorkspaceId, task_id: str) -> Task:
    stmt = select(Task).where(Task.id == task_id, Task.workspace_id == ws)
    task = (await session.execute(stmt)).scalar_one_or_none()
    if task is None:
        raise NotFound("task", task_id)
    return task


async def list_tasks(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> Page[Task]:
    stmt = select(Task).where(Task.workspace_id == ws)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Task, name) == value)
    return await paginate(session, stmt, Task.id, limit=limit, cursor=cursor)


async def create_task(session: AsyncSession, ws: WorkspaceId, values: dict[str, Any]) -> Task:
    await check_related(session, ws, values.get("related_type"), values.get("related_id"))
    now = utcnow()
    task = Task(id=new_id("task"), workspace_id=ws, created_at=now, updated_at=now, **values)
    if task.status == "done":
        task.completed_at = now
    session.add(task)
    await session.flush()
    await emit(session, ws, "task.created", _public(task))
    return task


async def update_task(
    session: AsyncSession, ws: WorkspaceId, task_id: str, changes: dict[str, Any]
) -> Task:
    task = await get_task(session, ws, task_id)
    for key in ("title", "status", "priority"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    if "related_type" in changes or "related_id" in changes:
        await check_related(
            session,
            ws,
            changes.get("related_type", task.related_type),
            changes.get("related_id", task.related_id),
        )
    now = utcnow()
    status = changes.get("status")
    if status is not None and status != task.status:
        task.completed_at = now if status == "done" else None
    for key, value in changes.items():
        setattr(task, key, value)
    task.updated_at = now
    await session.flush()
    await emit(session, ws, "task.updated", _public(task))
    if status == "done":
        await emit(session, ws, "task.completed", _public(task))
    return task


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Erasure hook: tasks linked to an erased person lose their text (title, description,
    completion note) and their event, delivery and replay copies."""
    stmt = select(Task.id).where(Task.workspace_id == ws, linked_to(Task, records))
    ids = list((await session.execute(stmt)).scalars())
    if not ids:
        return 0
    await session.execute(
        update(Task)
        .where(Task.workspace_id == ws, Task.id.in_(ids))  # type: ignore[attr-defined]
        .values(title=ERASED_TEXT, description=None, completion_note=None, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    await scrub_copies(session, ws, ids, event_types=TASK_EVENTS)
    return len(ids)
