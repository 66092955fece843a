"""Activity rules: a link names a record of the workspace, the search text follows the
summary and body, every entry is an event. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.activities import repository
from core.activities.models import Activity
from core.activities.schemas import COLUMNS, ActivityPublic, SearchActivitiesIn
from core.db import WorkspaceId, utcnow
from core.erasure import ERASED_TEXT, scrub_copies
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page
from core.related import check_related, related_model
from core.search import build_search_text


async def search_activities(
    session: AsyncSession, ws: WorkspaceId, a: SearchActivitiesIn
) -> Page[Activity]:
    if a.related_resource_type is not None:
        related_model(session, a.related_resource_type)  # a type no domain declares: 400
    return await repository.search(
        session,
        ws,
        query=a.query,
        type_=a.type,
        related_type=a.related_resource_type,
        related_id=a.related_resource_id,
        limit=a.limit,
        cursor=a.cursor,
    )


async def log_activity(
    session: AsyncSession, ws: WorkspaceId, values: Mapping[str, Any]
) -> Activity:
    """Record an activity from ``LogActivityIn``'s fields plus who logged it (``logged_by``)
    and over which ``channel``; ``occurred_at`` defaults to now."""
    values = {COLUMNS.get(k, k): v for k, v in values.items()}
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
    ids = await repository.linked_ids(session, ws, records)
    if not ids:
        return 0
    await repository.set_many(session, ws, ids, summary=ERASED_TEXT, body=None, search_text="")
    await scrub_copies(session, ws, ids, event_types=("activity.logged",))
    return len(ids)
