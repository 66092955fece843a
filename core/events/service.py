"""Recording domain events. The platform's subscribers (e.g. the webhook fan-out) run in
the same transaction; they are the domains' ``Domain.subscribers``, registered when the
platform is assembled, never by importing a module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import PLATFORM_KEY, WorkspaceId, utcnow
from core.events.models import DomainEvent
from core.ids import new_id


def _subscribers(session: AsyncSession) -> tuple[Any, ...]:
    platform = session.info.get(PLATFORM_KEY)
    return platform.subscribers if platform is not None else ()


async def emit(
    session: AsyncSession, workspace_id: WorkspaceId, type_: str, data: dict[str, Any]
) -> DomainEvent:
    """Record event ``type_`` with JSON ``data`` in the current transaction."""
    event = DomainEvent(
        id=new_id("evt"), workspace_id=workspace_id, type=type_, data=data, created_at=utcnow()
    )
    session.add(event)
    await session.flush()
    for subscriber in _subscribers(session):
        await subscriber(session, event)
    return event


_EVENTS = DomainEvent.__table__  # type: ignore[attr-defined]


async def emit_many(
    session: AsyncSession, events: list[tuple[WorkspaceId, str, dict[str, Any]]]
) -> list[DomainEvent]:
    """Record several ``(workspace_id, type, data)`` events in the current transaction with
    one Core INSERT (no ORM unit of work), then run the subscribers for each, in order.

    For transactions that hold no pending ORM objects (e.g. the workflow engine); ``emit``
    flushes the session first and suits everything else.
    """
    if not events:
        return []
    now = utcnow()
    rows = [
        {"id": new_id("evt"), "workspace_id": ws, "type": type_, "data": data, "created_at": now}
        for ws, type_, data in events
    ]
    await session.execute(insert(_EVENTS), rows)
    records = [DomainEvent(**row) for row in rows]
    subscribers = _subscribers(session)
    for record in records:
        for subscriber in subscribers:
            await subscriber(session, record)
    return records
