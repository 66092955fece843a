"""Workflow rules: recipes validated on save, triggers within the daily cap. Never commits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from core import usage
from core.db import Database, WorkspaceId, utcnow
from core.errors import Conflict, NotFound, RateLimited, Unprocessable
from core.ids import new_id
from core.platform import platform_of
from core.workflows import recipes, repository
from core.workflows.models import FINISHED_STATUSES, Workflow, WorkflowRun
from core.workflows.schemas import MAX_WAIT_SECONDS, RunStatus, WorkflowStatus
from core.workspaces.plans import Plan

MAX_INPUT_BYTES = 64 * 1024
POLL_INTERVAL_SECONDS = 0.2


# ---------------------------------------------------------------- workflows


async def create_workflow(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    name: str,
    recipe: Any,
    description: str | None = None,
    status: str = WorkflowStatus.active,
) -> Workflow:
    """Validate ``recipe`` and store a new workflow."""
    parsed = recipes.parse_recipe(recipe, platform_of(session).event_types)
    name = name.strip()
    if not name:
        raise Unprocessable("A workflow needs a name.", code="name_required")
    now = utcnow()
    workflow = Workflow(
        id=new_id("wf"),
        workspace_id=workspace_id,
        name=name,
        description=description,
        status=WorkflowStatus(status),
        recipe=recipes.normalized(parsed),
        created_at=now,
        updated_at=now,
    )
    session.add(workflow)
    await session.flush()
    return workflow


async def get_workflow(
    session: AsyncSession, workspace_id: WorkspaceId, workflow_id: str
) -> Workflow:
    workflow = await repository.get_workflow(session, workspace_id, workflow_id)
    if workflow is None:
        raise NotFound("workflow", workflow_id)
    return workflow


async def update_workflow(
    session: AsyncSession, workspace_id: WorkspaceId, workflow_id: str, changes: dict[str, Any]
) -> Workflow:
    """Apply the given fields (name, description, recipe, status)."""
    workflow = await get_workflow(session, workspace_id, workflow_id)
    if "recipe" in changes:
        reserved = platform_of(session).event_types
        workflow.recipe = recipes.normalized(recipes.parse_recipe(changes["recipe"], reserved))
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise Unprocessable("A workflow needs a name.", code="name_required")
        workflow.name = name
    if "description" in changes:
        workflow.description = changes["description"]
    if changes.get("status") is not None:
        workflow.status = WorkflowStatus(changes["status"])
    workflow.updated_at = utcnow()
    session.add(workflow)
    await session.flush()
    return workflow


def summary(workflow: Workflow) -> dict[str, Any]:
    """The fields of ``WorkflowSummary`` (the step count instead of the recipe)."""
    return {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "status": workflow.status,
        "step_count": recipes.step_count(workflow.recipe),
        "created_at": workflow.created_at,
        "updated_at": workflow.updated_at,
    }


# ---------------------------------------------------------------- runs


def seconds_until_next_utc_day(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds() + 0.999))


async def trigger_run(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    plan: Plan,
    workflow_id: str,
    run_input: dict[str, Any],
    *,
    channel: str,
    token_id: str | None = None,
    token_name: str | None = None,
    now: datetime | None = None,
) -> WorkflowRun:
    """Queue a run of an active workflow, counted against the plan's daily cap.

    The counter increment and the run insert share the caller's transaction, so a run
    exists exactly when it was counted. Whether the plan includes workflows is the gate's
    check (every caller goes through it).
    """
    now = now or utcnow()
    if len(json.dumps(run_input, separators=(",", ":"))) > MAX_INPUT_BYTES:
        raise Unprocessable(
            f"The run input is larger than {MAX_INPUT_BYTES // 1024} KB.", code="input_too_large"
        )
    workflow = await get_workflow(session, workspace_id, workflow_id)
    if workflow.status != WorkflowStatus.active:
        raise Conflict(
            f"Workflow {workflow.id} is inactive; activate it before running it.",
            code="workflow_inactive",
        )
    cap = plan.daily_workflow_runs
    if not await repository.increment_daily_usage(
        session, workspace_id, now.date().isoformat(), cap
    ):
        retry_after = seconds_until_next_utc_day(now)
        raise RateLimited(
            retry_after,
            f"Daily workflow cap reached: the {plan.name} plan allows {cap} runs per UTC day. "
            f"Retry after midnight UTC (in {retry_after} s) or upgrade the plan.",
            code="daily_workflow_cap_reached",
        )
    await usage.add(session, workspace_id, "workflow_runs", now=now)
    run = WorkflowRun(
        id=new_id("run"),
        workspace_id=workspace_id,
        workflow_id=workflow.id,
        status=RunStatus.queued,
        input=run_input,
        recipe=workflow.recipe,
        channel=channel,
        token_id=token_id,
        token_name=token_name,
        steps=[],
        steps_total=recipes.step_count(workflow.recipe),
        created_at=now,
        run_after=now,
    )
    session.add(run)
    await session.flush()
    return run


async def get_run(session: AsyncSession, workspace_id: WorkspaceId, run_id: str) -> WorkflowRun:
    run = await repository.get_run(session, workspace_id, run_id)
    if run is None:
        raise NotFound("workflow_run", run_id)
    return run


async def wait_for_run(
    db: Database, workspace_id: WorkspaceId, run: WorkflowRun, wait_seconds: float
) -> WorkflowRun:
    """Re-read ``run`` in short fresh read sessions until it is finished or time is up."""
    wait_seconds = min(max(wait_seconds, 0), MAX_WAIT_SECONDS)
    deadline = anyio.current_time() + wait_seconds
    while run.status not in FINISHED_STATUSES:
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            break
        await anyio.sleep(min(POLL_INTERVAL_SECONDS, remaining))
        async with db.session(workspace_id, read_only=True) as session:
            run = await get_run(session, workspace_id, run.id)
    return run
