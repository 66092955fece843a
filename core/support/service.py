"""Support rules. Never commits (the gate does).

Status rules:

- a ticket starts ``new`` (or the status sent); ``resolved`` stamps ``resolved_at`` and
  ``closed`` stamps ``closed_at``; moving back to an open status clears them;
- a closed ticket takes no edits (409 ``ticket_closed``) except a status change that
  reopens it; an outbound message on it is 409 ``ticket_closed``, an inbound one reopens
  it (``open``);
- an inbound message on a ``pending``, ``waiting_on_customer`` or ``resolved`` ticket
  moves it back to ``open``; the first outbound message moves a ``new`` ticket to
  ``open`` and stamps ``first_responded_at``.

The first-response SLA: see ``core.support.sla``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, flush_unique
from core.erasure import ERASED_TEXT, scrub_copies
from core.errors import Conflict, NotFound
from core.events.service import emit
from core.ids import new_id
from core.pagination import Page
from core.related import related_model
from core.search import build_search_text
from core.support import clock, repository, sla
from core.support.models import (
    SupportQueue,
    SupportTicket,
    SupportTicketComment,
    SupportTicketMessage,
)
from core.support.schemas import (
    LINKS,
    AddCommentIn,
    AddMessageIn,
    CreateQueueIn,
    CreateTicketIn,
    ListCommentsIn,
    ListMessagesIn,
    ListQueuesIn,
    ListTicketsIn,
    MessagePublic,
    TicketPublic,
    UpdateTicketIn,
)

TICKET_EVENTS = ("ticket.created", "ticket.updated", "ticket.sla_breached")
MESSAGE_EVENTS = ("ticket.message_added",)
REOPENED_BY_INBOUND = frozenset({"pending", "waiting_on_customer", "resolved", "closed"})
LINKED_TYPES = {
    "contact_id": "contact",
    "company_id": "company",
    "deal_id": "deal",
    "lead_id": "lead",
    "invoice_id": "invoice",
}
"""Ticket link column → the record type it names (``core.related``)."""


def ticket_closed(ticket_id: str, what: str) -> Conflict:
    return Conflict(
        f"Ticket {ticket_id} is closed: {what}. Reopen it first (status open), "
        "or send an inbound message.",
        code="ticket_closed",
    )


def ticket_json(ticket: SupportTicket) -> dict[str, Any]:
    return TicketPublic.model_validate(ticket).model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- queues


async def list_queues(session: AsyncSession, ws: WorkspaceId, a: ListQueuesIn) -> Page[Any]:
    return await repository.list_queues(
        session,
        ws,
        query=a.query,
        status=a.status,
        custom_field_key=a.custom_field_key,
        custom_field_value=a.custom_field_value,
        limit=a.limit,
        cursor=a.cursor,
    )


async def create_queue(session: AsyncSession, ws: WorkspaceId, a: CreateQueueIn) -> SupportQueue:
    taken = Conflict(
        f"A support queue with key '{a.key}' already exists.", code="support_queue_exists"
    )
    if await repository.queue_by_key(session, ws, a.key) is not None:
        raise taken
    now = clock.now()
    queue = SupportQueue(
        id=new_id("queue"), workspace_id=ws, created_at=now, updated_at=now, **a.model_dump()
    )
    session.add(queue)
    await flush_unique(session, taken)
    return queue


# ---------------------------------------------------------------- tickets


async def get_ticket(
    session: AsyncSession, ws: WorkspaceId, ticket_id: str, *, for_update: bool = False
) -> SupportTicket:
    return await repository.require(
        session, SupportTicket, ws, ticket_id, "ticket", for_update=for_update
    )


async def _check_links(session: AsyncSession, ws: WorkspaceId, values: Mapping[str, Any]) -> None:
    """Every link names a record of the workspace: 404 ``<type>_not_found`` otherwise."""
    queue_id = values.get("queue_id")
    if queue_id is not None and not await repository.exists(session, SupportQueue, ws, queue_id):
        raise NotFound("queue", queue_id)
    for column, type_ in LINKED_TYPES.items():
        value = values.get(column)
        if value is not None:
            model = related_model(session, type_)
            if not await repository.exists(session, model, ws, value):
                raise NotFound(type_, value)


def _search_text(ticket: SupportTicket) -> str:
    return build_search_text(ticket.subject, ticket.category, ticket.description)


async def _target_minutes(
    session: AsyncSession, ws: WorkspaceId, queue_id: str | None
) -> int | None:
    if queue_id is None:
        return None
    queue = await repository.require(session, SupportQueue, ws, queue_id, "queue")
    return queue.first_response_target_minutes


def _stamp_status(ticket: SupportTicket, status: str) -> None:
    now = clock.now()
    if status == ticket.status:
        return
    ticket.resolved_at = (
        now if status == "resolved" else (ticket.resolved_at if status == "closed" else None)
    )
    ticket.closed_at = now if status == "closed" else None
    ticket.status = status


async def create_ticket(
    session: AsyncSession, ws: WorkspaceId, a: CreateTicketIn, *, default_source: str
) -> SupportTicket:
    values = a.model_dump()
    await _check_links(session, ws, values)
    status = values.pop("status")
    now = clock.now()
    ticket = SupportTicket(
        id=new_id("ticket"),
        workspace_id=ws,
        created_at=now,
        updated_at=now,
        status="new",
        **{**values, "source": values.get("source") or default_source},
    )
    _stamp_status(ticket, status)
    ticket.search_text = _search_text(ticket)
    sla.set_deadline(ticket, await _target_minutes(session, ws, ticket.queue_id))
    session.add(ticket)
    await session.flush()
    await sla.schedule(session, ws, ticket)
    await emit(session, ws, "ticket.created", ticket_json(ticket))
    return ticket


async def update_ticket(session: AsyncSession, ws: WorkspaceId, a: UpdateTicketIn) -> SupportTicket:
    """Change the fields sent (a null subject, status, priority or source changes
    nothing; a null link, category or assignee clears it)."""
    ticket = await get_ticket(session, ws, a.ticket_id, for_update=True)
    changes = {k: getattr(a, k) for k in a.model_fields_set if k != "ticket_id"}
    for key in ("subject", "status", "priority", "source"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    status = changes.pop("status", None)
    if ticket.status == "closed" and status in (None, "closed") and changes:
        raise ticket_closed(ticket.id, "it cannot be edited")
    await _check_links(session, ws, {k: v for k, v in changes.items() if k in LINKS})
    custom = changes.pop("custom_fields", None)
    if custom is not None:
        merged = dict(ticket.custom_fields or {})
        for key, value in custom.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        ticket.custom_fields = merged
    queue_changed = "queue_id" in changes and changes["queue_id"] != ticket.queue_id
    for key, value in changes.items():
        setattr(ticket, key, value)
    if status is not None:
        _stamp_status(ticket, status)
    if queue_changed and ticket.first_responded_at is None and ticket.sla_breached_at is None:
        sla.set_deadline(ticket, await _target_minutes(session, ws, ticket.queue_id))
        await sla.schedule(session, ws, ticket)
    ticket.search_text = _search_text(ticket)
    ticket.updated_at = clock.now()
    await session.flush()
    await emit(session, ws, "ticket.updated", ticket_json(ticket))
    return ticket


async def list_tickets(session: AsyncSession, ws: WorkspaceId, a: ListTicketsIn) -> Page[Any]:
    equal = {
        column: getattr(a, column)
        for column in (
            "status", "priority", "source", "category", "queue_id", "assignee_id",
            "contact_id", "company_id", "deal_id", "lead_id", "invoice_id",
        )
    }  # fmt: skip
    return await repository.list_tickets(
        session,
        ws,
        equal=equal,
        query=a.query,
        breached=a.breached,
        now=clock.now(),
        custom_field_key=a.custom_field_key,
        custom_field_value=a.custom_field_value,
        limit=a.limit,
        cursor=a.cursor,
    )


# ---------------------------------------------------------------- messages and comments


async def add_message(
    session: AsyncSession, ws: WorkspaceId, a: AddMessageIn
) -> SupportTicketMessage:
    ticket = await get_ticket(session, ws, a.ticket_id, for_update=True)
    if a.direction == "outbound" and ticket.status == "closed":
        raise ticket_closed(ticket.id, "replies cannot be sent")
    now = clock.now()
    message = SupportTicketMessage(
        id=new_id("msg"),
        workspace_id=ws,
        created_at=now,
        **{**a.model_dump(), "channel": a.channel or ticket.source},
    )
    session.add(message)
    before = ticket.status
    if a.direction == "inbound":
        if ticket.status in REOPENED_BY_INBOUND:
            _stamp_status(ticket, "open")
    else:
        if ticket.status == "new":
            _stamp_status(ticket, "open")
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            breached = sla.breached_by_reply(ticket)
            await sla.schedule(session, ws, ticket)
            if breached:
                await session.flush()
                await emit(session, ws, "ticket.sla_breached", ticket_json(ticket))
    ticket.updated_at = now
    await session.flush()
    await emit(
        session,
        ws,
        "ticket.message_added",
        MessagePublic.model_validate(message).model_dump(mode="json", exclude_none=True),
    )
    if ticket.status != before:
        await emit(session, ws, "ticket.updated", ticket_json(ticket))
    return message


async def list_messages(session: AsyncSession, ws: WorkspaceId, a: ListMessagesIn) -> Page[Any]:
    await get_ticket(session, ws, a.ticket_id)
    return await repository.list_thread(
        session,
        SupportTicketMessage,
        ws,
        a.ticket_id,
        equal={"direction": a.direction},
        query=a.query,
        custom_field_key=a.custom_field_key,
        custom_field_value=a.custom_field_value,
        limit=a.limit,
        cursor=a.cursor,
    )


async def add_comment(
    session: AsyncSession, ws: WorkspaceId, a: AddCommentIn
) -> SupportTicketComment:
    """An internal note: allowed on any ticket, closed ones too; changes no status."""
    await get_ticket(session, ws, a.ticket_id)
    comment = SupportTicketComment(
        id=new_id("cmt"), workspace_id=ws, created_at=clock.now(), **a.model_dump()
    )
    session.add(comment)
    await session.flush()
    return comment


async def list_comments(session: AsyncSession, ws: WorkspaceId, a: ListCommentsIn) -> Page[Any]:
    await get_ticket(session, ws, a.ticket_id)
    return await repository.list_thread(
        session,
        SupportTicketComment,
        ws,
        a.ticket_id,
        equal={"pinned": a.pinned},
        query=a.query,
        custom_field_key=a.custom_field_key,
        custom_field_value=a.custom_field_value,
        limit=a.limit,
        cursor=a.cursor,
    )


# ---------------------------------------------------------------- erasure


async def erase_linked(
    session: AsyncSession, ws: WorkspaceId, records: Mapping[str, Collection[str]]
) -> int:
    """Erasure hook: the tickets of an erased contact (or of a lead converted into them)
    lose their personal text: subject, description, every message and comment body,
    their custom fields, and the copies of their events (deliveries, replays)."""
    ids = await repository.tickets_linked_to(
        session, ws, contacts=records.get("contact", ()), leads=records.get("lead", ())
    )
    if not ids:
        return 0
    await repository.set_many(
        session, SupportTicket, ws, ids,
        subject=ERASED_TEXT, description=None, custom_fields={}, search_text="",
        updated_at=clock.now(),
    )  # fmt: skip
    message_ids = await repository.thread_ids(session, SupportTicketMessage, ws, ids)
    await repository.set_thread(
        session, SupportTicketMessage, ws, ids, body=ERASED_TEXT, author_id=None, custom_fields={}
    )
    comment_ids = await repository.thread_ids(session, SupportTicketComment, ws, ids)
    await repository.set_thread(
        session, SupportTicketComment, ws, ids, body=ERASED_TEXT, author_id=None, custom_fields={}
    )
    await scrub_copies(session, ws, ids, event_types=TICKET_EVENTS)
    await scrub_copies(session, ws, message_ids, event_types=MESSAGE_EVENTS)
    await scrub_copies(session, ws, comment_ids, event_types=())  # their stored replays
    return len(ids)
