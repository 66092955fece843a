"""Workspace rules: creation, plan and status changes, the caller's own view. Never
commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, use_tenant, utcnow
from core.errors import NotFound, ValidationFailed
from core.ids import new_id
from core.platform import platform_of
from core.principal import Principal
from core.workspaces import repository
from core.workspaces.models import Workspace, WorkspaceStatus
from core.workspaces.plans import ALL_MODULES, PLANS, PlanName
from core.workspaces.schemas import MeOut, PlanLimits, Tenant, TokenSelf, WorkspacePublic


def _check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise ValidationFailed(f"Unknown plan '{plan}'. Plans: {', '.join(PLANS)}.")
    return plan


async def _require(session: AsyncSession, workspace_id: str) -> Workspace:
    workspace = await repository.get(session, workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    return workspace


async def create_workspace(
    session: AsyncSession, name: str, plan: str = PlanName.starter, modules: list[str] | None = None
) -> Workspace:
    """Create an active workspace on ``plan`` with ``modules`` (default: all) enabled;
    ``session`` is bound to it from then on (``use_tenant``), so the caller can add the
    workspace's first records (its tokens, sample data) in the same transaction."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("Workspace name must be 1-200 characters.")
    unknown = set(modules or ()) - set(ALL_MODULES)
    if unknown:
        raise ValidationFailed(f"Unknown modules: {', '.join(sorted(unknown))}.")
    now = utcnow()
    workspace = Workspace(
        id=new_id("wrk"),
        name=name,
        plan=_check_plan(plan),
        status=WorkspaceStatus.active,
        enabled_modules=list(modules or ALL_MODULES),
        created_at=now,
        updated_at=now,
    )
    session.add(workspace)
    await session.flush()
    await use_tenant(session, workspace.id)
    for seed in platform_of(session).workspace_seeders:  # e.g. the default deal pipeline
        await seed(session, WorkspaceId(workspace.id))
    return workspace


async def set_plan(session: AsyncSession, workspace_id: str, plan: str) -> Workspace:
    """Move a workspace to another plan."""
    workspace = await _require(session, workspace_id)
    workspace.plan = _check_plan(plan)
    workspace.updated_at = utcnow()
    await session.flush()
    return workspace


async def set_status(
    session: AsyncSession, workspace_id: str, status: WorkspaceStatus
) -> Workspace:
    """Archive, close or reactivate a workspace."""
    workspace = await _require(session, workspace_id)
    workspace.status = status
    workspace.updated_at = utcnow()
    await session.flush()
    return workspace


TENANT_NAMESPACE = uuid.UUID("8f6d3c1e-5b7a-4c2e-9a41-0d2f6b8e7c53")
"""The namespace of the workspaces' stable UUIDs (``tenant.uuid``: uuid5 of the id)."""


def tenant_uuid(workspace_id: str) -> str:
    """The workspace's stable UUID, derived from its id (nothing stored)."""
    return str(uuid.uuid5(TENANT_NAMESPACE, workspace_id))


async def set_rest_api_enabled(
    session: AsyncSession, workspace_id: str, enabled: bool
) -> Workspace:
    """Turn the workspace's REST API on or off (the kill switch; MCP is unaffected)."""
    workspace = await _require(session, workspace_id)
    workspace.rest_api_enabled = enabled
    workspace.updated_at = utcnow()
    await session.flush()
    return workspace


async def summary(session: AsyncSession, workspace_id: str) -> Workspace:
    """The caller's workspace (``GET /workspace``)."""
    return await _require(session, workspace_id)


async def me(session: AsyncSession, principal: Principal, now: datetime | None = None) -> MeOut:
    """The caller's workspace (also as ``tenant``), its plan's limits and the calling
    token, whose abilities name the workspace it is bound to (``tenant:<id>``)."""
    workspace = await _require(session, principal.workspace_id)
    plan = principal.plan
    return MeOut(
        tenant=Tenant(id=workspace.id, uuid=tenant_uuid(workspace.id), name=workspace.name),
        workspace=WorkspacePublic.model_validate(workspace),
        plan=PlanLimits(
            name=plan.name,
            rest_api=plan.rest_api,
            mcp=plan.mcp,
            workflows=plan.workflows,
            daily_workflow_runs=plan.daily_workflow_runs,
            crawl_pages_per_crawl=plan.crawl_pages_per_crawl,
            active_tokens=plan.active_tokens,
        ),
        token=TokenSelf(
            id=principal.token_id,
            name=principal.token_name,
            scopes=sorted(principal.scopes),
            abilities=[*sorted(principal.abilities), f"tenant:{workspace.id}"],
            created_at=principal.created_at,
            expires_at=principal.expires_at,
            last_used_at=now or principal.last_used_at,  # this request is a use
        ),
    )
