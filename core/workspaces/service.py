"""Workspace rules: creation, plan changes. Never commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.ids import new_id
from core.workspaces import repository
from core.workspaces.models import Workspace, WorkspaceStatus
from core.workspaces.plans import ALL_MODULES, PLANS, PlanName


def _check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise ValidationFailed(f"Unknown plan '{plan}'. Plans: {', '.join(PLANS)}.")
    return plan


async def create_workspace(
    session: AsyncSession, name: str, plan: str = PlanName.starter, modules: list[str] | None = None
) -> Workspace:
    """Create an active workspace on ``plan`` with ``modules`` (default: all) enabled."""
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
    return workspace


async def set_plan(session: AsyncSession, workspace_id: str, plan: str) -> Workspace:
    """Move a workspace to another plan."""
    workspace = await repository.get(session, workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    workspace.plan = _check_plan(plan)
    workspace.updated_at = utcnow()
    await session.flush()
    return workspace


async def set_status(
    session: AsyncSession, workspace_id: str, status: WorkspaceStatus
) -> Workspace:
    """Archive, close or reactivate a workspace."""
    workspace = await repository.get(session, workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    workspace.status = status
    workspace.updated_at = utcnow()
    await session.flush()
    return workspace
