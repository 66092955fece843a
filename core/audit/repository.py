"""Audit log queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.audit.models import AuditEntry
from core.db import WorkspaceId
from core.pagination import Page, paginate

_INSERT = sa.insert(AuditEntry.__table__)  # type: ignore[arg-type]
"""Core INSERT (one statement, no ORM unit of work), built once: every call writes a row."""


async def insert(session: AsyncSession, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Insert one row or many (column values, as ``service.entry`` makes them)."""
    await session.execute(_INSERT, rows)


async def list_entries(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    operation: str | None,
    channel: str | None,
    token_id: str | None,
    outcome: str | None,
    request_id: str | None = None,
    path: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntry]:
    """One page of the workspace's audit entries matching every filter given, newest first."""
    stmt = select(AuditEntry).where(AuditEntry.workspace_id == ws)
    for column, value in (
        (AuditEntry.operation, operation),
        (AuditEntry.channel, channel),
        (AuditEntry.token_id, token_id),
        (AuditEntry.outcome, outcome),
        (AuditEntry.request_id, request_id),
        (AuditEntry.path, path),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.created_at < until)
    return await paginate(session, stmt, AuditEntry.id, limit=limit, cursor=cursor)
