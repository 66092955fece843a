"""Task operations (scopes ``tasks:read`` / ``tasks:write``, module and toolset ``tasks``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import NotFound, ValidationFailed
from core.operations import Context, Kind, Operation, Toolset
from core.pagination import ListParams, Page
from core.related import RelatedType, related_model
from core.tasks import service
from core.tasks.models import Task, TaskPublic
from core.timestamps import UtcDatetime

TaskStatus = Literal["open", "in_progress", "done", "cancelled"]
Priority = Literal["low", "normal", "high", "urgent"]

RELATED_TYPE = "Linked record's type."
RELATED_ID = "Linked record's id."


class ListTasksIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = Field(default=None, description="Only tasks with this status.")
    assignee: str | None = Field(
        default=None, max_length=200, description="Only tasks assigned to this user or agent."
    )
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(default=None, max_length=40, description=RELATED_ID)


class TaskFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=10_000, description="Details.")
    priority: Priority | None = Field(default=None, description="Default normal.")
    assignee: str | None = Field(
        default=None, max_length=200, description="Who does it."
    )
    due_at: UtcDatetime | None = Field(default=None, description="When; with a UTC offset.")
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(default=None, max_length=40, description=RELATED_ID)


class CreateTaskIn(TaskFields):
    title: str = Field(min_length=1, max_length=300, description="What needs doing.")
    status: TaskStatus = Field(default="open", description="Initial status.")


class UpdateTaskIn(TaskFields):
    task_id: str = Field(min_length=1, max_length=40, description="Id of the task (task_...).")
    title: str | None = Field(default=None, min_length=1, max_length=300, description="New title.")
    status: TaskStatus | None = Field(
        default=None, description="done sets completed_at."
    )
    completion_note: str | None = Field(
        default=None, max_length=5_000, description="How it went."
    )


class TaskIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=40, description="Id of the task (task_...).")


async def list_tasks(ctx: Context, a: ListTasksIn) -> Page[Task]:
    # related_id alone is enough (ids are unique across types), as for activities.
    if a.related_type is not None:
        related_model(ctx.session, a.related_type)  # a type no domain declares: 400
    filters = {k: getattr(a, k) for k in ("status", "assignee", "related_type", "related_id")}
    return await service.list_tasks(
        ctx.session, ctx.workspace_id, filters=filters, limit=a.limit, cursor=a.cursor
    )


async def create_task(ctx: Context, a: CreateTaskIn) -> Task:
    values: dict[str, Any] = a.model_dump()
    values["priority"] = values["priority"] or "normal"
    task = await service.create_task(ctx.session, ctx.workspace_id, values)
    ctx.resource_id = task.id
    return task


async def get_task(ctx: Context, a: TaskIdIn) -> Task:
    return await service.get_task(ctx.session, ctx.workspace_id, a.task_id)


async def update_task(ctx: Context, a: UpdateTaskIn) -> Task:
    ctx.resource_id = a.task_id
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "task_id"}
    return await service.update_task(ctx.session, ctx.workspace_id, a.task_id, changes)


def _op(name: str, method: str, path: str, handler: Any, inp: Any, **kw: Any) -> Operation:
    kind = kw.pop("kind", Kind.read)
    return Operation(
        name=name,
        scope="tasks:read" if kind is Kind.read else "tasks:write",
        kind=kind,
        toolset="tasks",
        method=method,
        path=path,
        input_model=inp,
        output_model=TaskPublic,
        handler=handler,
        module="tasks",
        errors=(NotFound, ValidationFailed),
        **kw,
    )


OPERATIONS = [
    _op(
        "list_tasks",
        "GET",
        "/tasks",
        list_tasks,
        ListTasksIn,
        paginated=True,
        summary="List tasks",
        description=(
            "List to-dos, newest first, by status, assignee or linked record (related_type + "
            "related_id, e.g. a contact's open tasks)."
        ),
    ),
    _op(
        "create_task",
        "POST",
        "/tasks",
        create_task,
        CreateTaskIn,
        kind=Kind.write,
        open_world=True,  # emits an event that webhooks deliver
        success_status=201,
        summary="Create a task",
        description=(
            "Create a follow-up or to-do, optionally assigned and linked to a record "
            "(related_type + related_id; an unknown record answers 404)."
        ),
    ),
    _op(
        "get_task",
        "GET",
        "/tasks/{task_id}",
        get_task,
        TaskIdIn,
        summary="Get a task",
        description="Fetch one task by id.",
    ),
    _op(
        "update_task",
        "PATCH",
        "/tasks/{task_id}",
        update_task,
        UpdateTaskIn,
        kind=Kind.write,
        open_world=True,  # emits an event that webhooks deliver
        destructive=True,
        idempotent=True,
        summary="Update a task",
        description=(
            "Complete (status done), cancel or edit a task; only sent fields change."
        ),
    ),
]

TOOLSETS = (Toolset("tasks", "To-dos linked to any record.", default=True),)
