"""Token queries: by ``WorkspaceId``, except the two that run before any workspace is
known (authentication, operator revocation), which on PostgreSQL go through the narrow
``SECURITY DEFINER`` functions of migration 0008 (row-level security hides every token
from a session bound to no workspace)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import JSONType, UTCDateTime, WorkspaceId, record_workspace, tenant_was_set
from core.pagination import Page, paginate
from core.tokens.models import ApiToken
from core.workspaces.models import Workspace

_tokens = ApiToken.__table__  # type: ignore[attr-defined]
_workspaces = Workspace.__table__  # type: ignore[attr-defined]
_CREDENTIALS = (
    sa.select(
        _tokens.c.token_hash,
        _tokens.c.revoked_at,
        _tokens.c.expires_at,
        _tokens.c.name,
        _tokens.c.scopes,
        _tokens.c.abilities,
        _tokens.c.rate_limit_per_minute,
        _tokens.c.last_used_at,
        _tokens.c.created_at,
        _workspaces.c.id.label("workspace_id"),
        _workspaces.c.name.label("workspace_name"),
        _workspaces.c.status.label("workspace_status"),
        _workspaces.c.plan,
        _workspaces.c.enabled_modules,
        _workspaces.c.rest_api_enabled,
    )
    .join(_workspaces, _workspaces.c.id == _tokens.c.workspace_id)
    .where(
        _tokens.c.id == sa.bindparam("token_id"), _tokens.c.token_hash == sa.bindparam("token_hash")
    )
)
"""Built once: authentication runs on every call, so no per-call statement building."""

_AUTHENTICATE = sa.text("SELECT * FROM patchbay_authenticate(:token_id, :token_hash)").columns(
    sa.column("token_hash"),
    sa.column("revoked_at", UTCDateTime()),
    sa.column("expires_at", UTCDateTime()),
    sa.column("name"),
    sa.column("scopes", JSONType),
    sa.column("abilities", JSONType),
    sa.column("rate_limit_per_minute"),
    sa.column("last_used_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
    sa.column("workspace_id"),
    sa.column("workspace_name"),
    sa.column("workspace_status"),
    sa.column("plan"),
    sa.column("enabled_modules", JSONType),
    sa.column("rest_api_enabled"),
)
"""PostgreSQL: the same row through the ``SECURITY DEFINER`` function (migration 0008)."""

_TOUCH_MANY = (
    sa.update(_tokens)
    .where(_tokens.c.workspace_id == sa.bindparam("b_ws"), _tokens.c.id == sa.bindparam("b_token"))
    .values(last_used_at=sa.bindparam("b_at", type_=UTCDateTime()))
)


async def credentials(session: AsyncSession, token_id: str, token_hash: str) -> sa.Row[Any] | None:
    """The token with this id and secret hash: its state and grants with its workspace,
    in one query, before any workspace is known (authentication only)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _AUTHENTICATE if postgres else _CREDENTIALS
    params = {"token_id": token_id, "token_hash": token_hash}
    row = (await session.execute(statement, params)).first()
    if postgres and row is not None:  # the function bound the transaction to the workspace
        tenant_was_set(session, row.workspace_id)
    return row


async def workspace_of(session: AsyncSession, token_id: str) -> WorkspaceId | None:
    """The workspace a token id belongs to, whatever it is (operator revocation only)."""
    workspace_id = await record_workspace(session, "api_tokens", token_id)
    return WorkspaceId(workspace_id) if workspace_id is not None else None


async def get(session: AsyncSession, workspace_id: WorkspaceId, token_id: str) -> ApiToken | None:
    """The workspace's token with this id, or None."""
    return await session.get(ApiToken, (workspace_id, token_id))


async def count_active(session: AsyncSession, workspace_id: WorkspaceId, now: datetime) -> int:
    """Tokens of the workspace that are neither revoked nor expired."""
    stmt = (
        select(func.count())
        .select_from(ApiToken)
        .where(
            ApiToken.workspace_id == workspace_id,
            ApiToken.revoked_at.is_(None),  # type: ignore[union-attr]
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),  # type: ignore[union-attr,operator]
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def list_tokens(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    include_revoked: bool,
    limit: int,
    cursor: str | None,
) -> Page[ApiToken]:
    """One page of the workspace's tokens, newest first."""
    stmt = select(ApiToken).where(ApiToken.workspace_id == workspace_id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    return await paginate(session, stmt, ApiToken.id, limit=limit, cursor=cursor)


async def list_for_workspace(session: AsyncSession, workspace_id: WorkspaceId) -> list[ApiToken]:
    """Every token of the workspace, newest first (the command line's list)."""
    stmt = (
        select(ApiToken).where(ApiToken.workspace_id == workspace_id).order_by(ApiToken.id.desc())
    )  # type: ignore[union-attr]
    return list((await session.execute(stmt)).scalars())


async def touch(
    session: AsyncSession, workspace_id: WorkspaceId, token_id: str, at: datetime
) -> None:
    """Set the token's ``last_used_at``."""
    await session.execute(
        update(ApiToken)
        .where(ApiToken.workspace_id == workspace_id, ApiToken.id == token_id)
        .values(last_used_at=at)
    )


async def touch_many(
    session: AsyncSession, workspace_id: str, uses: Mapping[str, datetime]
) -> None:
    """Set ``last_used_at`` of several tokens of one workspace (token id → when) in one
    statement."""
    if uses:
        await session.execute(
            _TOUCH_MANY,
            [{"b_ws": workspace_id, "b_token": t, "b_at": at} for t, at in uses.items()],
        )
