"""The demo workspace that ``patchbay up`` creates on first run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId, use_tenant, utcnow
from core.members import repository as member_records
from core.members import service as members
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from core.tokens.models import ApiToken
from core.tokens.schemas import TokenCreated
from core.workflows.models import Workflow
from core.workspaces import service as workspaces
from core.workspaces.models import Workspace
from patchbay.demo.crm import seed_crm
from patchbay.demo.workflows import DEMO_WORKFLOW_NAME, seed_workflows

DEMO_WORKSPACE_NAME = "Patchbay Demo"
DEMO_TOKEN_NAME = "demo token"
DEMO_OWNER_EMAIL = "owner@demo.local"


@dataclass(frozen=True)
class DemoSetup:
    workspace_id: WorkspaceId
    token: str | None  # only on the run that created it (or with ``new_token``)
    workflow_id: str | None = None  # the "Spring Promo kickoff" workflow
    revoked_tokens: int = 0  # earlier demo tokens revoked by ``new_token``
    owner_email: str = DEMO_OWNER_EMAIL
    owner_password: str | None = None  # only on the run that created the owner


async def ensure_demo(runtime: Runtime, *, new_token: bool = False) -> DemoSetup:
    """Create the demo workspace, its sample data and a full token once; reuse afterwards.

    ``new_token`` mints a fresh demo token for an existing demo workspace and revokes the
    earlier demo tokens (the plan allows few active tokens; the old one was lost anyway).
    """
    async with runtime.db.session() as session:
        existing = (
            await session.execute(select(Workspace).where(Workspace.name == DEMO_WORKSPACE_NAME))
        ).scalar_one_or_none()
        if existing is not None:
            workspace_id = WorkspaceId(existing.id)
            await use_tenant(session, workspace_id)  # its tokens and workflows are read next
            revoked = 0
            token = None
            if new_token:
                now = utcnow()
                old = (
                    await session.execute(
                        select(ApiToken).where(
                            ApiToken.workspace_id == workspace_id,  # type: ignore[arg-type]
                            ApiToken.name == DEMO_TOKEN_NAME,  # type: ignore[arg-type]
                            ApiToken.revoked_at.is_(None),  # type: ignore[union-attr]
                        )
                    )
                ).scalars()
                for row in old:
                    row.revoked_at = now
                    revoked += 1
                await session.flush()
                token = (await _mint(session, workspace_id)).token
            return DemoSetup(
                workspace_id,
                token,
                await _workflow_id(session, workspace_id),
                revoked,
                owner_password=await _owner(session, workspace_id),
            )
        workspace = await workspaces.create_workspace(session, DEMO_WORKSPACE_NAME, "pro")
        workspace_id = WorkspaceId(workspace.id)
        created = await _mint(session, workspace_id)
        for seed in SEEDERS:
            await seed(session, workspace_id)
        return DemoSetup(
            workspace_id,
            created.token,
            await _workflow_id(session, workspace_id),
            owner_password=await _owner(session, workspace_id),
        )


async def _mint(session: AsyncSession, workspace_id: WorkspaceId) -> TokenCreated:
    return await tokens.issue_token(
        session,
        workspace_id,
        name=DEMO_TOKEN_NAME,
        scopes=list(ALL_SCOPES),
        abilities=list(ALL_ABILITIES),
    )


async def _workflow_id(session: AsyncSession, workspace_id: WorkspaceId) -> str | None:
    row = (
        await session.execute(
            select(Workflow.id).where(
                Workflow.workspace_id == workspace_id,  # type: ignore[arg-type]
                Workflow.name == DEMO_WORKFLOW_NAME,  # type: ignore[arg-type]
            )
        )
    ).first()
    return None if row is None else str(row[0])


SEEDERS = (seed_workflows, seed_crm)
"""Coroutines ``(session, workspace_id)`` adding each domain's sample records."""


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
