"""Workflow operations: recipes (workflows:read/write), runs (workflows:run/read)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import Conflict, NotFound, RateLimited, Unprocessable
from core.operations import Context, Kind, Operation, Toolset
from core.pagination import ListParams, Page, paginate
from core.workflows import repository, service
from core.workflows.models import (
    RunStatus,
    Workflow,
    WorkflowPublic,
    WorkflowRun,
    WorkflowRunPublic,
    WorkflowRunSummary,
    WorkflowStatus,
    WorkflowSummary,
)

COMMON = {"toolset": "workflows", "module": "workflows", "feature": "workflows"}

RECIPE_DESCRIPTION = (
    '{"steps": [...], "continue_on_error": false}, up to 50 steps: {"type": "log", '
    '"message": s}, {"type": "delay", "seconds": 1-30}, {"type": "fire_webhook_event", '
    '"event": k, "payload": {}}. Strings may use {{input.key}}.'
)

WORKFLOW_ID = Field(max_length=40, description="Id of the workflow (wf_...).")


class ListWorkflowsIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    status: WorkflowStatus | None = Field(default=None, description="Only active or inactive.")


class CreateWorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Workflow name.")
    description: str | None = Field(
        default=None, max_length=2000, description="What the workflow is for."
    )
    recipe: dict[str, Any] = Field(description=RECIPE_DESCRIPTION)
    status: WorkflowStatus = Field(
        default=WorkflowStatus.active, description="inactive workflows cannot run."
    )


class WorkflowIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = WORKFLOW_ID


class UpdateWorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = WORKFLOW_ID
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
    description: str | None = Field(default=None, max_length=2000, description="New description.")
    recipe: dict[str, Any] | None = Field(default=None, description=RECIPE_DESCRIPTION)
    status: WorkflowStatus | None = Field(default=None, description="inactive stops new runs.")


class TriggerWorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = WORKFLOW_ID
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Run input (max 64 KB); steps read it as {{input.key}}.",
    )


class ListRunsIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str | None = Field(
        default=None, max_length=40, description="Only runs of this workflow (wf_...)."
    )
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class ListRunsOfWorkflowIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = WORKFLOW_ID
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class GetRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(max_length=40, description="Id of the run (run_...).")
    wait_seconds: int = Field(
        default=0,
        ge=0,
        le=service.MAX_WAIT_SECONDS,
        description="Seconds to wait for the run to finish (0: answer at once).",
    )


# ---------------------------------------------------------------- handlers


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
    Operation(
        name="list_workflows",
        summary="List workflows",
        description=(
            "List workflows, newest first, with their step counts; get_workflow has the "
            "recipe."
        ),
        scope="workflows:read",
        kind=Kind.read,
        method="GET",
        path="/workflows",
        input_model=ListWorkflowsIn,
        output_model=WorkflowSummary,
        handler=list_workflows,
        paginated=True,
        **COMMON,
    ),
    Operation(
        name="create_workflow",
        summary="Create a workflow",
        description=(
            "Create an automation from a recipe; run it with trigger_workflow. A bad recipe "
            "answers 422 naming the step."
        ),
        scope="workflows:write",
        kind=Kind.write,
        method="POST",
        path="/workflows",
        input_model=CreateWorkflowIn,
        output_model=WorkflowPublic,
        handler=create_workflow,
        success_status=201,
        errors=(Unprocessable,),
        **COMMON,
    ),
    Operation(
        name="get_workflow",
        summary="Get a workflow",
        description="Return one workflow with its full recipe.",
        scope="workflows:read",
        kind=Kind.read,
        method="GET",
        path="/workflows/{workflow_id}",
        input_model=WorkflowIdIn,
        output_model=WorkflowPublic,
        handler=get_workflow,
        errors=(NotFound,),
        **COMMON,
    ),
    Operation(
        name="update_workflow",
        summary="Update a workflow",
        description=(
            "Change a workflow's name, description, recipe or status; only sent fields change. "
            "Queued runs keep their recipe."
        ),
        scope="workflows:write",
        kind=Kind.write,
        method="PATCH",
        path="/workflows/{workflow_id}",
        input_model=UpdateWorkflowIn,
        output_model=WorkflowPublic,
        handler=update_workflow,
        destructive=True,  # overwrites the recipe, name or status
        idempotent=True,
        errors=(NotFound, Unprocessable),
        **COMMON,
    ),
    Operation(
        name="trigger_workflow",
        summary="Run a workflow",
        description=(
            "Start a run of an active workflow; it answers at once with the queued run. Poll "
            "get_workflow_run (wait_seconds long-polls) for the result."
        ),
        scope="workflows:run",
        kind=Kind.write,
        method="POST",
        path="/workflows/{workflow_id}/runs",
        input_model=TriggerWorkflowIn,
        output_model=WorkflowRunSummary,
        handler=trigger_workflow,
        success_status=202,
        idempotent=False,
        open_world=True,  # a run fires webhook events
        errors=(NotFound, Conflict, RateLimited, Unprocessable),
        **COMMON,
    ),
    Operation(
        name="list_workflow_runs",
        summary="List workflow runs",
        description=(
            "List workflow runs, newest first, optionally of one workflow or in one status. "
            "get_workflow_run has a run's step output."
        ),
        scope="workflows:read",
        kind=Kind.read,
        method="GET",
        path="/workflow-runs",
        input_model=ListRunsIn,
        output_model=WorkflowRunSummary,
        handler=list_workflow_runs,
        paginated=True,
        **COMMON,
    ),
    Operation(
        name="list_runs_of_workflow",
        summary="List a workflow's runs",
        description="List one workflow's runs, newest first, optionally by status.",
        scope="workflows:read",
        kind=Kind.read,
        method="GET",
        path="/workflows/{workflow_id}/runs",
        input_model=ListRunsOfWorkflowIn,
        output_model=WorkflowRunSummary,
        handler=list_runs_of_workflow,
        paginated=True,
        errors=(NotFound,),
        mcp_tool=False,  # REST alias (000); over MCP list_workflow_runs takes workflow_id
        **COMMON,
    ),
    Operation(
        name="get_workflow_run",
        summary="Get a workflow run",
        description=(
            "One run with its per-step output and, if it failed, the error; wait_seconds waits "
            "for it to finish first."
        ),
        scope="workflows:read",
        kind=Kind.read,
        method="GET",
        path="/workflow-runs/{run_id}",
        input_model=GetRunIn,
        output_model=WorkflowRunPublic,
        handler=get_workflow_run,
        errors=(NotFound,),
        long_poll_seconds_field="wait_seconds",
        **COMMON,
    ),
]

TOOLSETS = (
    Toolset("workflows", "Workflows: list, create, edit, trigger and follow runs.", default=True),
)
