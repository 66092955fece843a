"""Erasure (GDPR): removing a person's data from the copies Patchbay keeps of a record.

The record itself is blanked by its domain service. ``scrub_copies`` then removes the
copies, in the same transaction: the payloads of the domain events that described the
record, the copies other domains keep of those events (``Domain.copy_scrubbers``: the
webhook deliveries, sent or still queued: a queued one then carries only the stub), and
the responses stored for idempotent replays. Each copy becomes ``{"id": …, "erased":
true}``.

Records linked to the person (tasks and activities whose ``related_type``/``related_id``
name the erased contact or a lead converted into it) hold free text about them:
``erase_linked`` runs each domain's eraser (``Domain.erasers``), which blanks that text
and scrubs the records' own copies the same way.

Not reachable from here: what webhook receivers already received, and free text that
mentions the person in records not linked to them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.events.models import DomainEvent
from core.idempotency_models import IdempotencyRecord
from core.platform import platform_of

_events = DomainEvent.__table__  # type: ignore[attr-defined]
_replays = IdempotencyRecord.__table__  # type: ignore[attr-defined]


ERASED_TEXT = "(erased)"
"""What a required text field of an erased record holds instead of the person's data."""


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Blank the records linked to ``records`` (and their copies) in every domain that
    declares an eraser; returns how many."""
    erased = 0
    for eraser in platform_of(session).erasers:
        erased += await eraser(session, ws, records)
    return erased


def linked_to(model: Any, records: Mapping[str, Collection[str]]) -> Any:
    """The condition "``model`` is linked to one of ``records``"."""
    return sa.or_(
        *(
            (model.related_type == type_) & model.related_id.in_(list(ids))
            for type_, ids in records.items()
            if ids
        ),
        sa.false(),
    )


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
        stubs = {event_id: stub(record) for event_id, record in found}
        for scrub in platform_of(session).copy_scrubbers:
            await scrub(session, ws, stubs)
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
