"""Test factories: build records through the services, never raw inserts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, WorkspaceId
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service as tokens
from core.workspaces import service as workspaces


@dataclass
class Tenant:
    """A workspace and a token for it."""

    workspace_id: WorkspaceId
    token: str
    token_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_workspace(runtime: Runtime, name: str = "Acme", plan: str = "pro") -> WorkspaceId:
    async with runtime.db.session() as session:
        workspace = await workspaces.create_workspace(session, name, plan)
        return WorkspaceId(workspace.id)


async def make_token(
    runtime: Runtime,
    workspace_id: WorkspaceId,
    *,
    scopes: list[str] | tuple[str, ...] = ALL_SCOPES,
    abilities: list[str] | tuple[str, ...] = ALL_ABILITIES,
    name: str = "test token",
    expires_in_days: int | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[str, str]:
    """Issue a token; returns (plaintext, token id)."""
    async with runtime.db.session(workspace_id) as session:
        created = await tokens.issue_token(
            session,
            workspace_id,
            name=name,
            scopes=list(scopes),
            abilities=list(abilities),
            expires_in_days=expires_in_days,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        return created.token, created.id


async def make_tenant(
    runtime: Runtime,
    *,
    name: str = "Acme",
    plan: str = "pro",
    scopes: list[str] | tuple[str, ...] = ALL_SCOPES,
    abilities: list[str] | tuple[str, ...] = ALL_ABILITIES,
) -> Tenant:
    workspace_id = await make_workspace(runtime, name, plan)
    token, token_id = await make_token(runtime, workspace_id, scopes=scopes, abilities=abilities)
    return Tenant(workspace_id, token, token_id)


async def token_for(
    runtime: Runtime, tenant: Tenant, scopes: list[str] | tuple[str, ...], **kw: object
) -> str:
    """Another token for ``tenant``'s workspace with exactly ``scopes``."""
    token, _ = await make_token(runtime, tenant.workspace_id, scopes=scopes, **kw)  # type: ignore[arg-type]
    return token


@asynccontextmanager
async def owner_session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session as the database's login role (the tables' owner, which row-level
    security does not bind): for tests that arrange or inspect rows across workspaces.
    The application never runs this way."""
    owner = Database(runtime.db.url, pool_size=1, role=None)
    owner.platform = runtime.db.platform
    try:
        async with owner.session() as session:
            yield session
    finally:
        await owner.dispose()
