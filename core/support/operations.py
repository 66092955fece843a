"""Support operations: scopes ``support:read`` / ``support:write``, module and toolset
``support`` (not in the default MCP selection). Paths, operationIds and argument names
are the reference API's (003 "Support")."""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, NotFound, ValidationFailed
from core.operations import Channel, Context, Declare, Toolset
from core.pagination import Page
from core.support import service
from core.support.models import (
    SupportQueue,
    SupportTicket,
    SupportTicketComment,
    SupportTicketMessage,
)
from core.support.schemas import (
    AddCommentIn,
    AddMessageIn,
    CommentPublic,
    CreateQueueIn,
    CreateTicketIn,
    ListCommentsIn,
    ListMessagesIn,
    ListQueuesIn,
    ListTicketsIn,
    MessagePublic,
    QueuePublic,
    TicketIdIn,
    TicketPublic,
    UpdateTicketIn,
)

support = Declare(
    scope="support", toolset="support", module="support", writes_emit_events=True,
    errors=(NotFound, ValidationFailed),
)  # fmt: skip
CLOSED = (NotFound, ValidationFailed, Conflict)
PAGE = " Newest first; page with cursor."
SOURCES = {Channel.rest: "api", Channel.mcp: "mcp", Channel.cli: "manual"}


async def list_support_queues(ctx: Context, a: ListQueuesIn) -> Page[SupportQueue]:
    return await service.list_queues(ctx.session, ctx.workspace_id, a)


async def create_support_queue(ctx: Context, a: CreateQueueIn) -> SupportQueue:
    queue = await service.create_queue(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = queue.id
    return queue


async def search_support_tickets(ctx: Context, a: ListTicketsIn) -> Page[SupportTicket]:
    return await service.list_tickets(ctx.session, ctx.workspace_id, a)


async def get_support_ticket(ctx: Context, a: TicketIdIn) -> SupportTicket:
    return await service.get_ticket(ctx.session, ctx.workspace_id, a.ticket_id)


async def create_support_ticket(ctx: Context, a: CreateTicketIn) -> SupportTicket:
    ticket = await service.create_ticket(
        ctx.session, ctx.workspace_id, a, default_source=SOURCES.get(ctx.channel, "api")
    )
    ctx.resource_id = ticket.id
    return ticket


async def update_support_ticket(ctx: Context, a: UpdateTicketIn) -> SupportTicket:
    ctx.resource_id = a.ticket_id
    return await service.update_ticket(ctx.session, ctx.workspace_id, a)


async def list_support_ticket_messages(
    ctx: Context, a: ListMessagesIn
) -> Page[SupportTicketMessage]:
    return await service.list_messages(ctx.session, ctx.workspace_id, a)


async def add_support_ticket_message(ctx: Context, a: AddMessageIn) -> SupportTicketMessage:
    message = await service.add_message(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = message.id
    return message


async def list_support_ticket_comments(
    ctx: Context, a: ListCommentsIn
) -> Page[SupportTicketComment]:
    return await service.list_comments(ctx.session, ctx.workspace_id, a)


async def add_support_ticket_comment(ctx: Context, a: AddCommentIn) -> SupportTicketComment:
    comment = await service.add_comment(ctx.session, ctx.workspace_id, a)
    ctx.resource_id = comment.id
    return comment


OPERATIONS: list[Any] = [
    support.list(
        "list_support_queues", "/support/queues", list_support_queues, ListQueuesIn, QueuePublic,
        summary="List support queues",
        description="Support queues by status, text in key or name, or custom field." + PAGE,
    ),
    support.create(
        "create_support_queue", "/support/queues", create_support_queue, CreateQueueIn,
        QueuePublic,
        summary="Create a support queue",
        description=(
            "A queue of tickets with a unique key; first_response_target_minutes sets the "
            "first-reply SLA of its tickets (409 support_queue_exists for a used key)."
        ),
        errors=CLOSED, open_world=False,
    ),
    support.list(
        "search_support_tickets", "/support/tickets", search_support_tickets, ListTicketsIn,
        TicketPublic,
        operation_id="listSupportTickets",
        summary="Search support tickets",
        description=(
            "Tickets by status, priority, source, category, queue_id, assignee_id, linked "
            "record, custom field, breached (first-reply SLA missed) or free text query."
            + PAGE
        ),
    ),
    support.get(
        "get_support_ticket", "/support/tickets/{ticket_id}", get_support_ticket, TicketIdIn,
        TicketPublic,
        summary="Get a support ticket",
        description="One ticket with its SLA timestamps.",
    ),
    support.create(
        "create_support_ticket", "/support/tickets", create_support_ticket, CreateTicketIn,
        TicketPublic,
        summary="Open a support ticket",
        description=(
            "Open a ticket, optionally in a queue (its target sets first_response_due_at) and "
            "linked to a contact, company, deal, lead or invoice of the workspace (unknown: 404)."
        ),
    ),
    support.update(
        "update_support_ticket", "/support/tickets/{ticket_id}", update_support_ticket,
        UpdateTicketIn, TicketPublic,
        summary="Update a support ticket",
        description=(
            "Change status, priority, queue, assignee, links or fields; only sent fields "
            "change. A closed ticket only takes a status that reopens it (409 ticket_closed)."
        ),
        errors=CLOSED,
    ),
    support.list(
        "list_support_ticket_messages", "/support/tickets/{ticket_id}/messages",
        list_support_ticket_messages, ListMessagesIn, MessagePublic,
        summary="List a ticket's messages",
        description="The customer-visible thread, by direction or text." + PAGE,
        errors=(NotFound, ValidationFailed),
    ),
    support.create(
        "add_support_ticket_message", "/support/tickets/{ticket_id}/messages",
        add_support_ticket_message, AddMessageIn, MessagePublic,
        summary="Reply to or log a customer message",
        description=(
            "outbound (default): a reply to the customer; the first one stamps "
            "first_responded_at; 409 ticket_closed on a closed ticket. inbound: the "
            "customer wrote; it reopens a pending, waiting, resolved or closed ticket."
        ),
        errors=CLOSED,
    ),
    support.list(
        "list_support_ticket_comments", "/support/tickets/{ticket_id}/comments",
        list_support_ticket_comments, ListCommentsIn, CommentPublic,
        summary="List a ticket's internal comments",
        description="Internal notes on a ticket, by pinned or text." + PAGE,
        errors=(NotFound, ValidationFailed),
    ),
    support.create(
        "add_support_ticket_comment", "/support/tickets/{ticket_id}/comments",
        add_support_ticket_comment, AddCommentIn, CommentPublic,
        summary="Comment on a ticket (internal)",
        description="An internal note the customer never sees; pinned keeps it on top.",
        open_world=False,
    ),
]  # fmt: skip

TOOLSETS = (Toolset("support", "Support desk: tickets, replies and internal comments."),)
