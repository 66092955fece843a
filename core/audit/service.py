"""Writing audit rows. Never commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.db import WorkspaceId, utcnow
from core.ids import new_id


def record(
    session: AsyncSession,
    *,
    workspace_id: WorkspaceId,
    token_id: str | None,
    token_name: str | None,
    channel: str,
    operation: str,
    status: int,
    outcome: str,
    request_id: str,
    resource_id: str | None = None,
) -> None:
    """Add an audit row to the session's transaction."""
    session.add(
        AuditEntry(
            id=new_id("aud"),
            workspace_id=workspace_id,
            token_id=token_id,
            token_name=token_name,
            channel=channel,
            operation=operation,
            status=status,
            outcome=outcome,
            request_id=request_id,
            resource_id=resource_id,
            created_at=utcnow(),
        )
    )
