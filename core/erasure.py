"""Erasure (GDPR): removing a person's data from the copies Patchbay keeps of a record.

The record itself is blanked by its domain service. ``scrub_copies`` then removes the
copies, in the same transaction: the payloads of the domain events that described the
record, the payloads of their webhook deliveries (sent or still queued: a queued one
then carries only the stub), and the responses stored for idempotent replays. Each copy
becomes ``{"id": …, "erased": true}``.

Not reachable from here: what webhook receivers already received, and free text that
mentions the person in other records (an activity's body, a task's title).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.events.models import DomainEvent
from core.idempotency_models import IdempotencyRecord
from core.webhooks.models import WebhookDelivery

_events = DomainEvent.__table__  # type: ignore[attr-defined]
_deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined]
_replays = IdempotencyRecord.__table__  # type: ignore[attr-defined]


def stub(record_id: str) -> dict[str, Any]:
    """What remains of an erased record in a copy."""
    return {"id": record_id, "erased": True}


async def scrub_copies(
    session: AsyncSession,
    ws: WorkspaceId,
    record_ids: Collection[str],
    *,
    event_types: Collection[str],
) -> int:
    """Replace the copies of ``record_ids`` (events of ``event_types`` whose data is the
    record, their deliveries, stored replays) with stubs; returns the events scrubbed."""
    if not record_ids:
        return 0
    ids = list(record_ids)
    event_record = _events.c.data["id"].as_string()
    found = (
        await session.execute(
            sa.select(_events.c.id, event_record).where(
                _events.c.workspace_id == ws,
                _events.c.type.in_(list(event_types)),
                event_record.in_(ids),
            )
        )
    ).all()
    if found:
        copies = [{"b_event": event_id, "b_data": stub(record)} for event_id, record in found]
        await session.execute(
            sa.update(_events)
            .where(_events.c.id == sa.bindparam("b_event"))
            .values(data=sa.bindparam("b_data", type_=_events.c.data.type)),
            copies,
        )
        await session.execute(
            sa.update(_deliveries)
            .where(
                _deliveries.c.workspace_id == ws,
                _deliveries.c.event_id == sa.bindparam("b_event"),
            )
            .values(payload=sa.bindparam("b_data", type_=_deliveries.c.payload.type)),
            copies,
        )
    replay_record = _replays.c.response_body[("data", "id")].as_string()
    replays = (
        await session.execute(
            sa.select(_replays.c.token_id, _replays.c.key, replay_record).where(
                _replays.c.workspace_id == ws, replay_record.in_(ids)
            )
        )
    ).all()
    if replays:
        await session.execute(
            sa.update(_replays)
            .where(
                _replays.c.token_id == sa.bindparam("b_token"),
                _replays.c.key == sa.bindparam("b_key"),
            )
            .values(response_body=sa.bindparam("b_body", type_=_replays.c.response_body.type)),
            [
                {"b_token": token, "b_key": key, "b_body": {"data": stub(record)}}
                for token, key, record in replays
            ],
        )
    return len(found)
