"""The demo workspace that ``patchbay up`` creates on first run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId, use_tenant
from core.members import repository as member_records
from core.members import service as members
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from core.workspaces import service as workspaces
from core.workspaces.models import Workspace
from patchbay.demo.crm import seed_crm
from patchbay.demo.workflows import seed_workflows

DEMO_WORKSPACE_NAME = "Patchbay Demo"
DEMO_OWNER_EMAIL = "owner@demo.local"


@dataclass(frozen=True)
class DemoSetup:
    workspace_id: WorkspaceId
    token: str | None  # only on the run that created it
    owner_email: str = DEMO_OWNER_EMAIL
    owner_password: str | None = None  # only on the run that created the owner


async def ensure_demo(runtime: Runtime) -> DemoSetup:
    """Create the demo workspace, its sample data and a full token once; reuse afterwards."""
    async with runtime.db.session() as session:
        existing = (
            await session.execute(select(Workspace).where(Workspace.name == DEMO_WORKSPACE_NAME))
        ).scalar_one_or_none()
        if existing is not None:
            workspace_id = WorkspaceId(existing.id)
            return DemoSetup(workspace_id, None, owner_password=await _owner(session, workspace_id))
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
        password = await _owner(session, workspace_id)
        return DemoSetup(workspace_id, created.token, owner_password=password)


async def _owner(session: AsyncSession, workspace_id: WorkspaceId) -> str | None:
    """Make ``owner@demo.local`` the demo workspace's owner with a generated password, once
    (answers the password then; None when the owner exists already)."""
    if await member_records.member_by_email(session, DEMO_OWNER_EMAIL) is not None:
        return None
    await use_tenant(session, workspace_id)
    password = secrets.token_urlsafe(12)
    await members.add_member(
        session, workspace_id, email=DEMO_OWNER_EMAIL, role="owner", password=password
    )
    return password


SEEDERS = (seed_workflows, seed_crm)
"""Coroutines ``(session, workspace_id)`` adding each domain's sample records."""
