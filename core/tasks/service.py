"""Task rules: a link names a record of the workspace, ``completed`` stamps ``completed_at``,
every change is an event. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.erasure import ERASED_TEXT, scrub_copies
from core.errors import NotFound
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page
from core.related import check_related, related_model
from core.tasks import repository
from core.tasks.models import Task
from core.tasks.schemas import COLUMNS, ListTasksIn, TaskPublic, UpdateTaskIn

TASK_EVENTS = ("task.created", "task.updated", "task.completed")


def _public(task: Task) -> dict[str, Any]:
    return TaskPublic.model_validate(task).model_dump(mode="json", exclude_none=True)


async def get_task(session: AsyncSession, ws: WorkspaceId, task_id: str) -> Task:
    task = await repository.get(session, ws, task_id)
    if task is None:
        raise NotFound("task", task_id)
    return task


async def list_tasks(session: AsyncSession, ws: WorkspaceId, a: ListTasksIn) -> Page[Task]:
    # related_id alone is enough (ids are unique across types), as for activities.
    if a.related_resource_type is not None:
        related_model(session, a.related_resource_type)  # a type no domain declares: 400
    return await repository.list_tasks(
        session,
        ws,
        status=a.status,
        assignee=a.assignee_id,
        related_type=a.related_resource_type,
        related_id=a.related_resource_id,
        limit=a.limit,
        cursor=a.cursor,
    )


async def create_task(session: AsyncSession, ws: WorkspaceId, values: Mapping[str, Any]) -> Task:
    """Create a task from ``CreateTaskIn``'s fields (priority defaults to normal)."""
    values = {COLUMNS.get(k, k): v for k, v in values.items()}
    await check_related(session, ws, values.get("related_type"), values.get("related_id"))
    now = utcnow()
    task = Task(
        id=new_id("task"),
        workspace_id=ws,
        created_at=now,
        updated_at=now,
        **{**values, "priority": values.get("priority") or "normal"},
    )
    if task.status == "completed":
        task.completed_at = now
    session.add(task)
    await session.flush()
    await emit(session, ws, "task.created", _public(task))
    return task


async def update_task(session: AsyncSession, ws: WorkspaceId, a: UpdateTaskIn) -> Task:
    """Change the fields sent (a null title, status or priority changes nothing)."""
    task = await get_task(session, ws, a.task_id)
    changes = {COLUMNS.get(k, k): getattr(a, k) for k in a.model_fields_set if k != "task_id"}
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
        task.completed_at = now if status == "completed" else None
    for key, value in changes.items():
        setattr(task, key, value)
    task.updated_at = now
    await session.flush()
    await emit(session, ws, "task.updated", _public(task))
    if status == "completed":
        await emit(session, ws, "task.completed", _public(task))
    return task


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Erasure hook: tasks linked to an erased person lose their text (title, description,
    completion note) and their event, delivery and replay copies."""
    ids = await repository.linked_ids(session, ws, records)
    if not ids:
        return 0
    await repository.set_many(
        session, ws, ids,
        title=ERASED_TEXT, description=None, completion_note=None, updated_at=utcnow(),
    )  # fmt: skip
    await scrub_copies(session, ws, ids, event_types=TASK_EVENTS)
    return len(ids)
