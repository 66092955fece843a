"""Workflow operations: recipes (workflows:read/write), runs (workflows:run/read)."""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, NotFound, RateLimited, Unprocessable
from core.operations import Context, Declare, Toolset
from core.pagination import Page, paginate
from core.workflows import repository, service
from core.workflows.models import Workflow, WorkflowRun
from core.workflows.schemas import (
    CreateWorkflowIn,
    GetRunIn,
    ListRunsIn,
    ListRunsOfWorkflowIn,
    ListWorkflowsIn,
    TriggerWorkflowIn,
    UpdateWorkflowIn,
    WorkflowIdIn,
    WorkflowPublic,
    WorkflowRunPublic,
    WorkflowRunSummary,
    WorkflowSummary,
)

workflows = Declare(scope="workflows", toolset="workflows", module="workflows",
                    feature="workflows")  # fmt: skip


async def list_workflows(ctx: Context, args: ListWorkflowsIn) -> Page[Any]:
    stmt = repository.workflows_query(ctx.workspace_id, args.status)
    page = await paginate(ctx.session, stmt, Workflow.id, limit=args.limit, cursor=args.cursor)
    return Page([service.summary(w) for w in page.items], page.next_cursor)


async def create_workflow(ctx: Context, args: CreateWorkflowIn) -> Workflow:
    workflow = await service.create_workflow(
        ctx.session,
        ctx.workspace_id,
        name=args.name,
        description=args.description,
        recipe=args.recipe,
        status=args.status,
    )
    ctx.resource_id = workflow.id
    return workflow


async def get_workflow(ctx: Context, args: WorkflowIdIn) -> Workflow:
    return await service.get_workflow(ctx.session, ctx.workspace_id, args.workflow_id)


async def update_workflow(ctx: Context, args: UpdateWorkflowIn) -> Workflow:
    changes = args.model_dump(exclude_unset=True, exclude={"workflow_id"})
    workflow = await service.update_workflow(
        ctx.session, ctx.workspace_id, args.workflow_id, changes
    )
    ctx.resource_id = workflow.id
    return workflow


async def trigger_workflow(ctx: Context, args: TriggerWorkflowIn) -> WorkflowRun:
    p = ctx.principal
    run = await service.trigger_run(
        ctx.session,
        ctx.workspace_id,
        p.plan,
        args.workflow_id,
        args.input,
        channel=ctx.channel.value,
        token_id=p.token_id,
        token_name=p.token_name,
        now=ctx.now,
    )
    ctx.resource_id = run.id
    return run


async def list_workflow_runs(ctx: Context, args: ListRunsIn) -> Page[WorkflowRun]:
    stmt = repository.runs_query(ctx.workspace_id, workflow_id=args.workflow_id, status=args.status)
    return await paginate(ctx.session, stmt, WorkflowRun.id, limit=args.limit, cursor=args.cursor)


async def list_runs_of_workflow(ctx: Context, args: ListRunsOfWorkflowIn) -> Page[WorkflowRun]:
    await service.get_workflow(ctx.session, ctx.workspace_id, args.workflow_id)
    stmt = repository.runs_query(ctx.workspace_id, workflow_id=args.workflow_id, status=args.status)
    return await paginate(ctx.session, stmt, WorkflowRun.id, limit=args.limit, cursor=args.cursor)


async def get_workflow_run(ctx: Context, args: GetRunIn) -> WorkflowRun:
    run = await service.get_run(ctx.session, ctx.workspace_id, args.run_id)
    if args.wait_seconds:
        run = await service.wait_for_run(ctx.db, ctx.workspace_id, run, args.wait_seconds)
    return run


OPERATIONS = [
    workflows.list(
        "list_workflows", "/workflows", list_workflows, ListWorkflowsIn, WorkflowSummary,
        summary="List workflows",
        description="List workflows, newest first, with their step counts; get_workflow has "
        "the recipe.",
    ),
    workflows.create(
        "create_workflow", "/workflows", create_workflow, CreateWorkflowIn, WorkflowPublic,
        summary="Create a workflow",
        description="Create an automation from a recipe; run it with trigger_workflow. A bad "
        "recipe answers 422 naming the step.",
        errors=(Unprocessable,),
    ),
    workflows.get(
        "get_workflow", "/workflows/{workflow_id}", get_workflow, WorkflowIdIn, WorkflowPublic,
        summary="Get a workflow",
        description="Return one workflow with its full recipe.",
        errors=(NotFound,),
    ),
    workflows.update(  # overwrites the recipe, name or status
        "update_workflow", "/workflows/{workflow_id}", update_workflow, UpdateWorkflowIn,
        WorkflowPublic,
        summary="Update a workflow",
        description="Change a workflow's name, description, recipe or status; only sent fields "
        "change. Queued runs keep their recipe.",
        errors=(NotFound, Unprocessable),
    ),
    workflows.action(
        "trigger_workflow", "POST", "/workflows/{workflow_id}/runs", trigger_workflow,
        TriggerWorkflowIn, WorkflowRunSummary,
        summary="Run a workflow",
        description="Start a run of an active workflow; it answers at once with the queued "
        "run. Poll get_workflow_run (wait_seconds long-polls) for the result.",
        scope="workflows:run",
        success_status=202,
        idempotent=False,
        open_world=True,  # a run fires webhook events
        errors=(NotFound, Conflict, RateLimited, Unprocessable),
    ),
    workflows.list(
        "list_workflow_runs", "/workflow-runs", list_workflow_runs, ListRunsIn,
        WorkflowRunSummary,
        summary="List workflow runs",
        description="List workflow runs, newest first, optionally of one workflow or in one "
        "status. get_workflow_run has a run's step output.",
    ),
    workflows.list(
        "list_runs_of_workflow", "/workflows/{workflow_id}/runs", list_runs_of_workflow,
        ListRunsOfWorkflowIn, WorkflowRunSummary,
        summary="List a workflow's runs",
        description="List one workflow's runs, newest first, optionally by status.",
        errors=(NotFound,),
        mcp_tool=False,  # REST alias (000); over MCP list_workflow_runs takes workflow_id
    ),
    workflows.get(
        "get_workflow_run", "/workflow-runs/{run_id}", get_workflow_run, GetRunIn,
        WorkflowRunPublic,
        summary="Get a workflow run",
        description="One run with its per-step output and, if it failed, the error; "
        "wait_seconds waits for it to finish first.",
        errors=(NotFound,),
        long_poll_seconds_field="wait_seconds",
    ),
]  # fmt: skip

TOOLSETS = (
    Toolset("workflows", "Workflows: list, create, edit, trigger and follow runs.", default=True),
)
