"""The demo workspace that ``patchbay up`` creates on first run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from core.db import WorkspaceId
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from core.workspaces import service as workspaces
from core.workspaces.models import Workspace
from patchbay.demo.crm import seed_crm
from patchbay.demo.workflows import seed_workflows

DEMO_WORKSPACE_NAME = "Patchbay Demo"


@dataclass(frozen=True)
class DemoSetup:
    workspace_id: WorkspaceId
    token: str | None  # only on the run that created it


async def ensure_demo(runtime: Runtime) -> DemoSetup:
    """Create the demo workspace, its sample data and a full token once; reuse afterwards."""
    async with runtime.db.session() as session:
        existing = (
            await session.execute(select(Workspace).where(Workspace.name == DEMO_WORKSPACE_NAME))
        ).scalar_one_or_none()
        if existing is not None:
            return DemoSetup(WorkspaceId(existing.id), None)
        workspace = await workspaces.create_workspace(session, DEMO_WORKSPACE_NAME, "pro")
        workspace_id = WorkspaceId(workspace.id)
        created = await tokens.issue_token(
            session,
            workspace_id,
            name="demo token",
            scopes=list(ALL_SCOPES),
            abilities=list(ALL_ABILITIES),
        )
        for seed in SEEDERS:
            await seed(session, workspace_id)
        return DemoSetup(workspace_id, created.token)


SEEDERS = (seed_workflows, seed_crm)
"""Coroutines ``(session, workspace_id)`` adding each domain's sample records."""
