"""Recording domain events. Subscribers (e.g. webhook fan-out) run in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
