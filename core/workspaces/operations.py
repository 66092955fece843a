"""Operations on the caller's own workspace and token."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from core.operations import ANY_SCOPE, Context, Kind, Operation, Toolset
from core.workspaces import repository
from core.workspaces.models import WorkspacePublic


class NoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanLimits(BaseModel):
    name: str
    rest_api: bool
    mcp: bool
    workflows: bool
    daily_workflow_runs: int | None = None  # omitted when unlimited
    crawl_pages_per_crawl: int
    active_tokens: int


class TokenSelf(BaseModel):
    id: str
    name: str
    scopes: list[str]
    abilities: list[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class MeOut(BaseModel):
    workspace: WorkspacePublic
    plan: PlanLimits
    token: TokenSelf


async def get_me(ctx: Context, _: NoInput) -> MeOut:
    workspace = await repository.get(ctx.session, ctx.workspace_id)
    assert workspace is not None
    p = ctx.principal
    return MeOut(
        workspace=WorkspacePublic.model_validate(workspace),
        plan=PlanLimits(
            name=p.plan.name,
            rest_api=p.plan.rest_api,
            mcp=p.plan.mcp,
            workflows=p.plan.workflows,
            daily_workflow_runs=p.plan.daily_workflow_runs,
            crawl_pages_per_crawl=p.plan.crawl_pages_per_crawl,
            active_tokens=p.plan.active_tokens,
        ),
        token=TokenSelf(
            id=p.token_id,
            name=p.token_name,
            scopes=sorted(p.scopes),
            abilities=sorted(p.abilities),
            created_at=p.created_at,
            expires_at=p.expires_at,
            last_used_at=p.last_used_at,
        ),
    )


OPERATIONS = [
    Operation(
        name="get_me",
        summary="Who am I",
        description=(
            "The caller's workspace, its plan's limits and this token's scopes and abilities. "
            "Call it first to learn what this token may do."
        ),
        scope=ANY_SCOPE,
        kind=Kind.read,
        toolset="workspace",
        method="GET",
        path="/me",
        input_model=NoInput,
        output_model=MeOut,
        handler=get_me,
    ),
]

TOOLSETS = (
    Toolset("workspace", "get_me: the workspace, its plan and this token.", default=True),
)
