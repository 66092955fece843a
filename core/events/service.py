"""Recording domain events. Subscribers (e.g. webhook fan-out) run in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.events.models import DomainEvent
from core.ids import new_id

EventSubscriber = Callable[[AsyncSession, DomainEvent], Awaitable[None]]
_subscribers: list[EventSubscriber] = []


def subscribe(subscriber: EventSubscriber) -> EventSubscriber:
    """Register a coroutine called (inside the emitting transaction) for every event."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


async def emit(
    session: AsyncSession, workspace_id: WorkspaceId, type_: str, data: dict[str, Any]
) -> DomainEvent:
    """Record event ``type_`` with JSON ``data`` in the current transaction."""
    event = DomainEvent(
        id=new_id("evt"), workspace_id=workspace_id, type=type_, data=data, created_at=utcnow()
    )
    session.add(event)
    await session.flush()
    for subscriber in list(_subscribers):
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
    for record in records:
        for subscriber in list(_subscribers):
            await subscriber(session, record)
    return records
