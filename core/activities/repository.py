"""Activity queries. Every function takes the caller's ``WorkspaceId`` and filters by it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.activities.models import Activity
from core.db import WorkspaceId
from core.erasure import linked_to
from core.pagination import Page, paginate


async def search(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    query: str | None,
    type_: str | None,
    related_type: str | None,
    related_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Activity]:
    """Activities matching every filter given and every word of ``query``, newest first."""
    stmt = select(Activity).where(Activity.workspace_id == ws)
    for column, value in (
        (Activity.type, type_),
        (Activity.related_type, related_type),
        (Activity.related_id, related_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Activity.id, limit=limit, cursor=cursor, search=query)


async def linked_ids(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> list[str]:
    """Ids of the activities linked to one of ``records`` (``{related_type: ids}``)."""
    stmt = select(Activity.id).where(Activity.workspace_id == ws, linked_to(Activity, records))
    return list((await session.execute(stmt)).scalars())


async def set_many(
    session: AsyncSession, ws: WorkspaceId, ids: Collection[str], **values: Any
) -> None:
    """Set ``values`` on the activities with these ids."""
    await session.execute(
        update(Activity)
        .where(Activity.workspace_id == ws, Activity.id.in_(list(ids)))  # type: ignore[attr-defined]
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
