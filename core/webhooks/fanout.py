"""Fan-out: events become one delivery row per matching active endpoint, in the caller's
transaction (so a rolled-back change queues nothing).

- Every domain event (``core.events.service.emit``) is fanned out by ``on_domain_event``,
  the webhook domain's subscriber (its manifest declares it).
- ``enqueue_event`` does the same for workflow ``fire_webhook_event`` steps (the domain
  provides it as the ``event_publisher`` capability); it is idempotent per ``event_id``.

Only *active* endpoints receive new deliveries: a paused or disabled endpoint gets
nothing for events that happen meanwhile.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core import usage
from core.db import WorkspaceId, utcnow
from core.errors import Unprocessable
from core.events.models import DomainEvent
from core.events.names import EVENT_KEY_RE, is_builtin
from core.ids import new_id
from core.webhooks import repository
from core.webhooks.catalogue import subscribed
from core.webhooks.models import DeliveryStatus, WebhookDelivery

MAX_EVENT_ID_LENGTH = 80
LOOKUP_CACHE = "webhooks.fanout_lookups"


def cache_lookups(session: AsyncSession) -> None:
    """Opt-in for one transaction: remember each workspace's active endpoints for the
    rest of it (one SELECT per workspace instead of one per event).
    Only for transactions that change no endpoint (the workflow engine).
    """
    session.info[LOOKUP_CACHE] = {}


def normalise_event_id(event_id: str) -> str:
    """Event ids longer than the column are replaced by a stable digest."""
    if len(event_id) <= MAX_EVENT_ID_LENGTH:
        return event_id
    return "evh_" + hashlib.sha256(event_id.encode()).hexdigest()


async def insert_deliveries(
    session: AsyncSession,
    workspace_id: WorkspaceId | str,
    endpoint_ids: list[str],
    *,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: datetime,
) -> None:
    """Queue one delivery per endpoint; an (endpoint, event) pair already queued is skipped."""
    if not endpoint_ids:
        return
    now = utcnow()
    rows = [
        {
            "id": new_id("whd"),
            "workspace_id": workspace_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "event_type": event_type,
            "payload": payload,
            "event_created_at": occurred_at,
            "status": DeliveryStatus.pending.value,
            "run_after": now,
            "next_attempt_at": now,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["workspace_id", "endpoint_id", "event_id"])
    )
    queued = (await session.execute(stmt)).rowcount  # type: ignore[attr-defined]
    if queued and queued > 0:
        await usage.add(session, workspace_id, "deliveries", queued, now=now)


async def matching_endpoints(
    session: AsyncSession, workspace_id: WorkspaceId | str, event_type: str
) -> list[str]:
    """Ids of the workspace's active endpoints subscribed to ``event_type`` (or ``*``)."""
    cache = session.info.get(LOOKUP_CACHE)
    if cache is None:
        active = await repository.active_endpoints(session, workspace_id)
    else:
        key = ("endpoints", workspace_id)
        active = cache.get(key)
        if active is None:
            active = cache[key] = await repository.active_endpoints(session, workspace_id)
    return [endpoint_id for endpoint_id, types in active if subscribed(types, event_type)]


async def on_domain_event(session: AsyncSession, event: DomainEvent) -> None:
    """Subscriber: queue deliveries for a domain event of the same workspace."""
    endpoint_ids = await matching_endpoints(session, event.workspace_id, event.type)
    await insert_deliveries(
        session,
        event.workspace_id,
        endpoint_ids,
        event_id=event.id,
        event_type=event.type,
        payload=event.data,
        occurred_at=event.created_at,
    )


def ensure_valid_event_type(session: AsyncSession, event_type: str) -> None:
    """Raise ``Unprocessable(event_type_invalid)`` unless built-in or well-formed.

    A custom event type needs no registration: any well-formed name may be fired, and
    one nobody subscribes to matches no endpoint (registering only adds it to the
    catalogue, with a description).
    """
    if is_builtin(session, event_type) or EVENT_KEY_RE.match(event_type):
        return
    raise Unprocessable(
        f"'{event_type}' is not a valid event type (lowercase, dotted, e.g. campaign.kickoff).",
        code="event_type_invalid",
    )


async def enqueue_event(
    session: AsyncSession,
    workspace_id: WorkspaceId | str,
    event_type: str,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
) -> int:
    """Queue ``event_type`` for every matching active endpoint; returns how many matched.

    Repeating a call with the same ``event_id`` queues nothing new (and returns the same
    count while the subscriptions are unchanged; 0 when nobody subscribes). A malformed
    type raises ``Unprocessable(code="event_type_invalid")``.
    """
    ensure_valid_event_type(session, event_type)
    endpoint_ids = await matching_endpoints(session, workspace_id, event_type)
    await insert_deliveries(
        session,
        workspace_id,
        endpoint_ids,
        event_id=normalise_event_id(event_id or new_id("evt")),
        event_type=event_type,
        payload=payload,
        occurred_at=utcnow(),
    )
    return len(endpoint_ids)
