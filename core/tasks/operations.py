"""Task operations (scopes ``tasks:read`` / ``tasks:write``, module and toolset ``tasks``)."""

from __future__ import annotations

from core.errors import NotFound, ValidationFailed
from core.operations import Context, Declare, Toolset
from core.pagination import Page
from core.tasks import service
from core.tasks.models import Task
from core.tasks.schemas import CreateTaskIn, ListTasksIn, TaskIdIn, TaskPublic, UpdateTaskIn

tasks = Declare(scope="tasks", toolset="tasks", module="tasks", writes_emit_events=True)
ERRORS = (NotFound, ValidationFailed)


async def list_tasks(ctx: Context, a: ListTasksIn) -> Page[Task]:
    return await service.list_tasks(ctx.session, ctx.workspace_id, a)


async def create_task(ctx: Context, a: CreateTaskIn) -> Task:
    task = await service.create_task(ctx.session, ctx.workspace_id, a.model_dump())
    ctx.resource_id = task.id
    return task


async def get_task(ctx: Context, a: TaskIdIn) -> Task:
    return await service.get_task(ctx.session, ctx.workspace_id, a.task_id)


async def update_task(ctx: Context, a: UpdateTaskIn) -> Task:
    ctx.resource_id = a.task_id
    return await service.update_task(ctx.session, ctx.workspace_id, a)


OPERATIONS = [
    tasks.list(
        "list_tasks", "/tasks", list_tasks, ListTasksIn, TaskPublic,
        summary="List tasks",
        description=(
            "List to-dos, newest first, by status, assignee_id or linked record "
            "(related_resource_type + related_resource_id, e.g. a contact's open tasks)."
        ),
        errors=ERRORS,
    ),
    tasks.create(
        "create_task", "/tasks", create_task, CreateTaskIn, TaskPublic,
        summary="Create a task",
        description=(
            "Create a follow-up or to-do, optionally assigned and linked to a record "
            "(related_resource_type + related_resource_id; an unknown one answers 404)."
        ),
        errors=ERRORS,
    ),
    tasks.get(
        "get_task", "/tasks/{task_id}", get_task, TaskIdIn, TaskPublic,
        summary="Get a task",
        description="Fetch one task by id.",
        errors=ERRORS,
    ),
    tasks.update(
        "update_task", "/tasks/{task_id}", update_task, UpdateTaskIn, TaskPublic,
        summary="Update a task",
        description=(
            "Complete (+ completed_note), cancel or edit a task; only sent fields change."
        ),
        errors=ERRORS,
    ),
]  # fmt: skip

TOOLSETS = (Toolset("tasks", "To-dos linked to any record.", default=True),)
