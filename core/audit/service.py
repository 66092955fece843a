"""Writing audit rows in the caller's transaction. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import repository
from core.db import WorkspaceId, utcnow
from core.ids import new_id


def entry(
    *,
    workspace_id: WorkspaceId | str,
    token_id: str | None,
    token_name: str | None,
    channel: str,
    operation: str,
    status: int,
    outcome: str,
    request_id: str,
    resource_id: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """The column values of one audit row, stamped now."""
    return {
        "id": new_id("aud"),
        "workspace_id": workspace_id,
        "token_id": token_id,
        "token_name": token_name,
        "channel": channel,
        "operation": operation,
        "status": status,
        "outcome": outcome,
        "request_id": request_id,
        "resource_id": resource_id,
        "path": path[:500] if path else None,
        "created_at": utcnow(),
    }


async def record(session: AsyncSession, **fields: Any) -> None:
    """Insert an audit row (``entry`` fields) in the session's transaction."""
    await repository.insert(session, entry(**fields))
