"""Operations on the caller's own workspace and token (any valid token may call them)."""

from __future__ import annotations

from core.errors import Conflict, NotFound
from core.operations import ANY_READ_SCOPE, ANY_SCOPE, Context, Declare, Toolset
from core.workspaces import lifecycle, service
from core.workspaces.models import Workspace
from core.workspaces.schemas import (
    ExportIdIn,
    ExportOut,
    MeOut,
    NoInput,
    SubscriptionOut,
    WorkspaceSettingsIn,
    WorkspaceSummary,
)

OWNER_SCOPE = "workspace:owner"
"""Held by the owner role only (``core.members.roles``): the lifecycle and the export."""

workspace = Declare(scope="workspace", toolset="workspace", read_scope=ANY_SCOPE)


async def get_me(ctx: Context, _: NoInput) -> MeOut:
    return await service.me(ctx.session, ctx.principal, ctx.now)


def _summary(ctx: Context, workspace: Workspace) -> WorkspaceSummary:
    view = WorkspaceSummary.model_validate(workspace)
    view.purge_after = lifecycle.purge_due_at(ctx.settings, workspace)
    return view


async def get_workspace(ctx: Context, _: NoInput) -> WorkspaceSummary:
    return _summary(ctx, await service.summary(ctx.session, ctx.workspace_id))


def _move(action: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: Context, _: NoInput) -> WorkspaceSummary:
        ctx.resource_id = ctx.workspace_id
        return _summary(ctx, await lifecycle.move(ctx.session, ctx.workspace_id, action, ctx.now))

    handler.__name__ = f"{action}_workspace"
    return handler


async def get_billing_subscription(ctx: Context, _: NoInput) -> SubscriptionOut:
    return await lifecycle.subscription(ctx.session, ctx.workspace_id, ctx.now)


async def create_workspace_export(ctx: Context, _: NoInput) -> ExportOut:
    export = await lifecycle.request_export(ctx.session, ctx.workspace_id, ctx.now)
    ctx.resource_id = export.id
    return lifecycle.export_view(ctx.settings, export, ctx.now)


async def get_workspace_export(ctx: Context, a: ExportIdIn) -> ExportOut:
    export = await lifecycle.get_export(ctx.session, ctx.workspace_id, a.export_id)
    return lifecycle.export_view(ctx.settings, export, ctx.now)


async def update_workspace_settings(ctx: Context, a: WorkspaceSettingsIn) -> Workspace:
    ctx.resource_id = ctx.workspace_id
    return await service.set_rest_api_enabled(ctx.session, ctx.workspace_id, a.rest_api_enabled)


settings = Declare(scope="workspace", toolset="admin", write_scope="workspace:admin")
owner = Declare(scope="workspace", toolset="lifecycle", read_scope=OWNER_SCOPE,
                write_scope=OWNER_SCOPE)  # fmt: skip

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
        allowed_when_archived=True,
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
    *[
        owner.action(
            f"{action}_workspace", "POST", f"/workspace/{action}", _move(action), NoInput,
            WorkspaceSummary,
            summary=summary, description=description,
            destructive=action != "restore", idempotent=False,
            errors=(Conflict,), allowed_when_archived=True, allowed_when_closed=True,
        )
        for action, summary, description in (
            ("archive", "Archive the workspace",
             "Owner only. active -> archived: every operation then answers 403 "
             "workspace_inactive except the workspace, billing and export reads, the export, "
             "close and restore. 409 workspace_status_invalid unless active."),
            ("close", "Close the workspace",
             "Owner only. archived -> closed: only the export answers; the records are "
             "purged after the retention period (purge_after). 409 workspace_status_invalid "
             "unless archived."),
            ("restore", "Restore the workspace",
             "Owner only. archived -> active. 409 workspace_status_invalid unless archived "
             "(a closed workspace cannot be restored)."),
        )
    ],
    owner.get(
        "get_billing_subscription", "/billing/subscription", get_billing_subscription, NoInput,
        SubscriptionOut,
        summary="Get plan, cycle and usage",
        description=(
            "Read-only: the plan, the billing cycle (monthly from the workspace's creation "
            "day) and each meter (workflow_runs today and this cycle, active_tokens, "
            "crawl_pages, stored_bytes, deliveries, ai_tokens) against the plan's limit."
        ),
        scope="workspace:admin",
        allowed_when_archived=True,
    ),
    owner.action(
        "create_workspace_export", "POST", "/workspace/exports", create_workspace_export,
        NoInput, ExportOut,
        summary="Export all workspace data",
        description=(
            "Owner only. Queue an export of every record (audit log included) as NDJSON "
            "files in one zip; poll get_workspace_export for its signed download link. "
            "Answers the export already queued or running, if any. Also while archived or "
            "closed (until the purge)."
        ),
        success_status=202, allowed_when_archived=True, allowed_when_closed=True,
    ),
    owner.get(
        "get_workspace_export", "/workspace/exports/{export_id}", get_workspace_export,
        ExportIdIn, ExportOut,
        summary="Get an export",
        description=(
            "Owner only. The export's status, record counts and, once succeeded, a signed "
            "download link that expires (download_expires_at); each call signs a fresh one."
        ),
        errors=(NotFound,), allowed_when_archived=True, allowed_when_closed=True,
    ),
]  # fmt: skip

TOOLSETS = (
    Toolset("workspace", "get_me: the workspace, its plan and this token.", default=True),
    Toolset("lifecycle", "Workspace lifecycle, billing view and data exports (owner)."),
)
