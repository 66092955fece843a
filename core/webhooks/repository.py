"""Webhook queries, always by workspace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import WorkspaceId
from core.events.names import WILDCARD
from core.webhooks.models import (
    EndpointStatus,
    IntegrationEventType,
    WebhookDelivery,
    WebhookEndpoint,
)


async def get_endpoint(
    session: AsyncSession, workspace_id: WorkspaceId, endpoint_id: str
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.id == endpoint_id
    )
    return (await session.execute(stmt)).scalars().first()


def _json_contains_any(column: Any, values: list[str]) -> Any:
    """``column`` (a JSON list of plain dotted keys) contains one of ``values``."""
    text = sa.cast(column, sa.Text)
    return sa.or_(*(text.like(f'%"{v.replace("_", "!_")}"%', escape="!") for v in values))


def endpoints_query(
    workspace_id: WorkspaceId,
    *,
    query: str | None = None,
    status: str | None = None,
    event_type: str | None = None,
) -> Any:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
    if query:
        pattern = "%" + query.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(WebhookEndpoint.name).like(pattern, escape="!"),
                sa.func.lower(WebhookEndpoint.url).like(pattern, escape="!"),
            )
        )
    if status:
        stmt = stmt.where(WebhookEndpoint.status == status)
    if event_type:
        stmt = stmt.where(_json_contains_any(WebhookEndpoint.event_types, [event_type, WILDCARD]))
    return stmt


async def active_endpoints(
    session: AsyncSession, workspace_id: WorkspaceId | str
) -> list[tuple[str, list[str]]]:
    """(id, event_types) of the workspace's active endpoints."""
    stmt = sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
        WebhookEndpoint.workspace_id == workspace_id,
        WebhookEndpoint.status == EndpointStatus.active.value,
    )
    return [(r[0], list(r[1] or [])) for r in (await session.execute(stmt)).all()]


def deliveries_query(
    workspace_id: WorkspaceId,
    endpoint_id: str,
    *,
    event_type: str | None = None,
    status: str | None = None,
) -> Any:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.workspace_id == workspace_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if event_type:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt


async def custom_event_types(
    session: AsyncSession, workspace_id: WorkspaceId | str
) -> list[IntegrationEventType]:
    stmt = (
        select(IntegrationEventType)
        .where(IntegrationEventType.workspace_id == workspace_id)
        .order_by(IntegrationEventType.key)
    )
    return list((await session.execute(stmt)).scalars())


async def custom_keys(
    session: AsyncSession, workspace_id: WorkspaceId | str, keys: list[str]
) -> set[str]:
    """Which of ``keys`` are registered custom event types of the workspace."""
    if not keys:
        return set()
    stmt = sa.select(IntegrationEventType.key).where(
        IntegrationEventType.workspace_id == workspace_id, IntegrationEventType.key.in_(keys)
    )
    return {r[0] for r in (await session.execute(stmt)).all()}


async def count_custom(session: AsyncSession, workspace_id: WorkspaceId) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(IntegrationEventType)
        .where(IntegrationEventType.workspace_id == workspace_id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def scrub_payloads(
    session: AsyncSession, ws: WorkspaceId, stubs: Mapping[str, dict[str, Any]]
) -> None:
    """Erasure: the deliveries of the given events (sent or queued) carry the stubs."""
    if not stubs:
        return
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    await session.execute(
        sa.update(table)
        .where(table.c.workspace_id == ws, table.c.event_id == sa.bindparam("b_event"))
        .values(payload=sa.bindparam("b_data", type_=table.c.payload.type)),
        [{"b_event": event_id, "b_data": stub} for event_id, stub in stubs.items()],
    )
