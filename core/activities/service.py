"""Activity log rules and queries. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.activities.models import Activity, ActivityPublic
from core.db import WorkspaceId, utcnow
from core.erasure import ERASED_TEXT, linked_to, scrub_copies
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page, paginate
from core.related import check_related
from core.search import build_search_text, text_filter


async def search_activities(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    query: str | None,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> Page[Activity]:
    stmt = select(Activity).where(Activity.workspace_id == ws)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Activity, name) == value)
    condition = text_filter(session, Activity, query)
    if condition is not None:
        stmt = stmt.where(condition)
    return await paginate(session, stmt, Activity.id, limit=limit, cursor=cursor)


async def log_activity(session: AsyncSession, ws: WorkspaceId, values: dict[str, Any]) -> Activity:
    await check_related(session, ws, values.get("related_type"), values.get("related_id"))
    now = utcnow()
    values = {**values, "occurred_at": values.get("occurred_at") or now}
    activity = Activity(id=new_id("act"), workspace_id=ws, created_at=now, **values)
    activity.search_text = build_search_text(activity.summary, activity.body)
    session.add(activity)
    await session.flush()
    await emit(
        session,
        ws,
        "activity.logged",
        ActivityPublic.model_validate(activity).model_dump(mode="json", exclude_none=True),
    )
    return activity


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Erasure hook: activities linked to an erased person lose their text (summary, body)
    and their event, delivery and replay copies."""
    stmt = select(Activity.id).where(Activity.workspace_id == ws, linked_to(Activity, records))
    ids = list((await session.execute(stmt)).scalars())
    if not ids:
        return 0
    await session.execute(
        update(Activity)
        .where(Activity.workspace_id == ws, Activity.id.in_(ids))  # type: ignore[attr-defined]
        .values(summary=ERASED_TEXT, body=None, search_text="")
        .execution_options(synchronize_session="fetch")
    )
    await scrub_copies(session, ws, ids, event_types=("activity.logged",))
    return len(ids)
