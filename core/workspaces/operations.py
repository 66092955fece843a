"""Operations on the caller's own workspace and token (any valid token may call them)."""

from __future__ import annotations

from core.operations import ANY_READ_SCOPE, ANY_SCOPE, Context, Declare, Toolset
from core.workspaces import service
from core.workspaces.models import Workspace
from core.workspaces.schemas import MeOut, NoInput, WorkspaceSettingsIn, WorkspaceSummary

workspace = Declare(scope="workspace", toolset="workspace", read_scope=ANY_SCOPE)


async def get_me(ctx: Context, _: NoInput) -> MeOut:
    return await service.me(ctx.session, ctx.principal, ctx.now)


async def get_workspace(ctx: Context, _: NoInput) -> Workspace:
    return await service.summary(ctx.session, ctx.workspace_id)


async def update_workspace_settings(ctx: Context, a: WorkspaceSettingsIn) -> Workspace:
    ctx.resource_id = ctx.workspace_id
    return await service.set_rest_api_enabled(ctx.session, ctx.workspace_id, a.rest_api_enabled)


settings = Declare(scope="workspace", toolset="admin", write_scope="workspace:admin")

OPERATIONS = [
    workspace.get(
        "get_me", "/me", get_me, NoInput, MeOut,
        summary="Who am I",
        description=(
            "The caller's workspace, its plan's limits and this token's scopes and abilities. "
            "Call it first to learn what this token may do."
        ),
    ),
    workspace.get(
        "get_workspace", "/workspace", get_workspace, NoInput, WorkspaceSummary,
        summary="Get workspace summary",
        description=(
            "The caller's workspace: id, name, plan, status and enabled modules. Any read "
            "scope suffices. Over MCP, get_me answers this and more."
        ),
        scope=ANY_READ_SCOPE,
        mcp_tool=False,
    ),
    settings.update(
        "update_workspace_settings", "/workspace", update_workspace_settings,
        WorkspaceSettingsIn, WorkspaceSummary,
        summary="Change workspace settings",
        description=(
            "Turn the workspace's REST API on or off (rest_api_enabled; off, REST answers 404 "
            "rest_api_disabled and MCP keeps working)."
        ),
    ),
]  # fmt: skip

TOOLSETS = (Toolset("workspace", "get_me: the workspace, its plan and this token.", default=True),)
