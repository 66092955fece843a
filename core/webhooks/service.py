"""Webhook rules: endpoints (subscriptions, secrets, status), test events, event types.

Never commits. An endpoint's URL is checked before the transaction (``urls.py``); the
service applies the verdict. Status semantics:

- ``active``: receives new deliveries, queued ones are sent.
- ``paused``: receives no new deliveries; already queued ones stay ``pending``/``retrying``
  (the worker puts them back without counting an attempt) and go out once resumed.
- ``disabled`` (by hand, after a 410 or after failing for 5 days): no new deliveries;
  queued ones fail with ``endpoint_disabled``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, flush_unique, serialize, utcnow
from core.errors import Conflict, NotFound, Unprocessable
from core.events.names import EVENT_KEY_RE, WILDCARD, category_of, is_builtin
from core.ids import new_id
from core.platform import platform_of
from core.webhooks import repository, signing
from core.webhooks.fanout import insert_deliveries
from core.webhooks.models import (
    READY_STATUSES,
    IntegrationEventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.webhooks.schemas import (
    CreateWebhookIn,
    DeliveryStatus,
    EndpointStatus,
    UpdateWebhookIn,
)
from core.webhooks.urls import CheckedUrl

MAX_CUSTOM_EVENT_TYPES = 500


async def check_event_types(
    session: AsyncSession, workspace_id: WorkspaceId, event_types: list[str]
) -> list[str]:
    """Deduplicate and check subscriptions: built-in, any well-formed custom name
    (registered or not: a custom event needs no registration), or ``*``."""
    wanted = list(dict.fromkeys(t.strip() for t in event_types if t.strip()))
    if not wanted:
        raise Unprocessable(
            "Subscribe to at least one event type (or '*').", code="event_types_empty"
        )
    if WILDCARD in wanted:
        return [WILDCARD]
    invalid = [t for t in wanted if not is_builtin(session, t) and not EVENT_KEY_RE.match(t)]
    if invalid:
        raise Unprocessable(
            f"Invalid event type(s): {', '.join(invalid)}. Use '*', built-in types or custom "
            "names: lowercase and dotted, e.g. campaign.kickoff.",
            code="event_type_invalid",
            details={"invalid": invalid},
        )
    return wanted


async def get_endpoint(
    session: AsyncSession, workspace_id: WorkspaceId, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, workspace_id, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook", endpoint_id)
    return endpoint


async def create_endpoint(
    session: AsyncSession, workspace_id: WorkspaceId, a: CreateWebhookIn, url: CheckedUrl
) -> tuple[WebhookEndpoint, str]:
    """Create an active endpoint; returns it and its secret (shown once). ``url`` is
    ``a.url`` as checked before the transaction (``urls.check_endpoint_url``)."""
    types = await check_event_types(session, workspace_id, a.event_types)
    secret = signing.new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("wh"),
        workspace_id=workspace_id,
        name=a.name.strip(),
        url=url.allowed(),
        description=a.description,
        event_types=types,
        status=EndpointStatus.active,
        secret=secret,
        secret_preview=signing.preview(secret),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def update_endpoint(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    changes: UpdateWebhookIn,
    url: CheckedUrl | None,
) -> tuple[WebhookEndpoint, str | None]:
    """Apply the fields sent in ``changes``; returns the endpoint and the new secret if it
    was rotated. ``url`` is ``changes.url`` as checked before the transaction; its
    verdict only counts if the URL actually changes."""
    endpoint = await get_endpoint(session, workspace_id, changes.webhook_id)
    now = utcnow()
    if changes.event_types is not None:
        endpoint.event_types = await check_event_types(session, workspace_id, changes.event_types)
    if url is not None and url.url != endpoint.url:
        endpoint.url = url.allowed()
    if changes.name is not None:
        endpoint.name = changes.name.strip()
    if changes.description is not None:
        endpoint.description = changes.description
    secret: str | None = None
    if changes.rotate_secret:
        secret = signing.new_secret()
        endpoint.secret = secret
        endpoint.secret_preview = signing.preview(secret)
    if changes.status is not None and changes.status != endpoint.status:
        endpoint.status = changes.status
        if changes.status is EndpointStatus.active:
            endpoint.first_failure_at = None
            endpoint.disabled_reason = None
            await _wake_queued(session, workspace_id, endpoint.id, now)
        elif changes.status is EndpointStatus.disabled:
            endpoint.disabled_reason = "disabled_by_user"
            await fail_queued(session, workspace_id, endpoint.id, now)
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


async def _wake_queued(
    session: AsyncSession, workspace_id: WorkspaceId, endpoint_id: str, now: datetime
) -> None:
    """A resumed endpoint: deliveries held while paused become due now."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == workspace_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status.in_(READY_STATUSES),
            WebhookDelivery.locked_by.is_(None),
            WebhookDelivery.run_after > now,
        )
        .values(run_after=now, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def fail_queued(
    session: AsyncSession, workspace_id: WorkspaceId | str, endpoint_id: str, now: datetime
) -> None:
    """A disabled endpoint: its queued (not in-flight) deliveries fail."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == workspace_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status.in_(READY_STATUSES),
            WebhookDelivery.locked_by.is_(None),
        )
        .values(
            status=DeliveryStatus.failed.value,
            last_error="endpoint_disabled",
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def delete_endpoint(
    session: AsyncSession, workspace_id: WorkspaceId, endpoint_id: str
) -> tuple[WebhookEndpoint, int]:
    """Delete an endpoint with its delivery log; answers the endpoint and how many queued
    deliveries were cancelled (a delivery already being sent may still arrive once)."""
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    of_endpoint = (
        WebhookDelivery.workspace_id == workspace_id,
        WebhookDelivery.endpoint_id == endpoint_id,
    )
    queued = await session.execute(
        delete(WebhookDelivery)
        .where(*of_endpoint, WebhookDelivery.status.in_(READY_STATUSES))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(WebhookDelivery).where(*of_endpoint).execution_options(synchronize_session=False)
    )
    await session.delete(endpoint)
    await session.flush()
    return endpoint, int(queued.rowcount or 0)  # type: ignore[attr-defined]


async def queue_test(
    session: AsyncSession, workspace_id: WorkspaceId, endpoint_id: str
) -> WebhookDelivery:
    """Queue a ``webhook.test`` delivery to this endpoint only."""
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    if endpoint.status == EndpointStatus.disabled:
        raise Conflict(
            "The webhook endpoint is disabled; set its status to active first.",
            code="webhook_endpoint_disabled",
        )
    event_id = new_id("evt")
    now = utcnow()
    payload: dict[str, Any] = {
        "webhook_id": endpoint.id,
        "message": "This is a test event; no action is needed.",
    }
    await insert_deliveries(
        session,
        workspace_id,
        [endpoint.id],
        event_id=event_id,
        event_type="webhook.test",
        payload=payload,
        occurred_at=now,
    )
    delivery = (
        await session.execute(
            repository.deliveries_query(workspace_id, endpoint.id).where(
                WebhookDelivery.event_id == event_id
            )
        )
    ).scalar_one()
    return delivery


async def get_delivery(
    session: AsyncSession, workspace_id: WorkspaceId, delivery_id: str
) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, (workspace_id, delivery_id))
    if delivery is None or delivery.workspace_id != workspace_id:
        raise NotFound("webhook_delivery", delivery_id)
    return delivery


async def retry_delivery(
    session: AsyncSession, workspace_id: WorkspaceId, delivery_id: str
) -> WebhookDelivery:
    """Send a delivery that has not succeeded as soon as a worker is free: a failed one
    gets one more attempt, a retrying or pending one skips its wait. A succeeded one, or
    one being sent right now, is refused (``delivery_not_retryable``)."""
    delivery = await get_delivery(session, workspace_id, delivery_id)
    endpoint = await get_endpoint(session, workspace_id, delivery.endpoint_id)
    if endpoint.status == EndpointStatus.disabled:
        raise Conflict(
            "The webhook endpoint is disabled; set its status to active first.",
            code="webhook_endpoint_disabled",
        )
    now = utcnow()
    leased = delivery.lease_until is not None and delivery.lease_until > now
    if delivery.status == DeliveryStatus.succeeded or leased:
        why = "is being sent right now" if leased else "already succeeded"
        raise Conflict(
            f"This delivery {why}; only one that has not succeeded can be retried.",
            code="delivery_not_retryable",
        )
    if delivery.status == DeliveryStatus.failed:
        delivery.status = DeliveryStatus.retrying.value
    delivery.run_after = now
    delivery.next_attempt_at = now
    delivery.updated_at = now
    await session.flush()
    return delivery


# ------------------------------------------------------------------ event types


@dataclass
class EventTypeView:
    key: str
    category: str
    description: str | None
    source: str
    id: str | None = None
    created_at: datetime | None = None


async def list_event_types(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    query: str | None = None,
    category: str | None = None,
    source: str | None = None,
) -> list[EventTypeView]:
    items = [
        EventTypeView(key, category_of(session, key), description, "builtin")
        for key, description in platform_of(session).event_types.items()
    ]
    items += [
        EventTypeView(row.key, row.category, row.description, "custom", row.id, row.created_at)
        for row in await repository.custom_event_types(session, workspace_id)
    ]
    if query:
        needle = query.lower()
        items = [
            i
            for i in items
            if needle in i.key or (i.description and needle in i.description.lower())
        ]
    if category:
        items = [i for i in items if i.category == category]
    if source:
        items = [i for i in items if i.source == source]
    return items


async def register_event_type(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    key: str,
    category: str | None,
    description: str | None,
) -> IntegrationEventType:
    if not EVENT_KEY_RE.match(key):
        raise Unprocessable(
            "Event keys are lowercase and dotted, e.g. 'campaign.kickoff'.",
            code="event_type_invalid",
        )
    if is_builtin(session, key):
        raise Unprocessable(
            f"'{key}' is a built-in event type, reserved for the events Patchbay emits.",
            code="event_type_reserved",
        )
    taken = Conflict(f"The event type '{key}' is already registered.", code="event_type_exists")
    # Concurrent registrations of one workspace count and insert one at a time, so the
    # cap is exact (a count-then-insert alone let 100 concurrent requests past it).
    await serialize(session, f"integration_event_types:{workspace_id}")
    if await repository.custom_keys(session, workspace_id, [key]):
        raise taken
    if await repository.count_custom(session, workspace_id) >= MAX_CUSTOM_EVENT_TYPES:
        raise Conflict(
            f"A workspace can register at most {MAX_CUSTOM_EVENT_TYPES} event types.",
            code="event_type_limit_reached",
        )
    row = IntegrationEventType(
        id=new_id("iet"),
        workspace_id=workspace_id,
        key=key,
        category=category or category_of(session, key),
        description=description,
        created_at=utcnow(),
    )
    session.add(row)
    await flush_unique(session, taken)  # a concurrent registration may have won the race
    return row
