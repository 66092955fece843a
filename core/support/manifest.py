"""The support domain: queues, tickets, their messages and internal comments, and the
first-response SLA checked by a worker queue."""

from core.domain import Domain, Sample
from core.ids import new_id
from core.support.jobs import SLA_QUEUE
from core.support.models import (
    SupportQueue,
    SupportSlaCheck,
    SupportTicket,
    SupportTicketComment,
    SupportTicketMessage,
)
from core.support.operations import OPERATIONS, TOOLSETS
from core.support.service import erase_linked


def _key() -> str:
    return "q_" + new_id("x")[-10:]


DOMAIN = Domain(
    name="support",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(
        SupportQueue,
        SupportTicket,
        SupportTicketMessage,
        SupportTicketComment,
        SupportSlaCheck,
    ),
    queues=(SLA_QUEUE,),
    event_types={
        "ticket.created": "A support ticket was opened.",
        "ticket.updated": "A support ticket changed (status, priority, queue, assignee…).",
        "ticket.message_added": "A message was added to a ticket's customer thread.",
        "ticket.sla_breached": "A ticket missed its first-response deadline.",
    },
    event_category="support",
    erasers=(erase_linked,),
    samples={
        "create_support_queue": Sample(
            lambda: {
                "key": _key(),
                "name": "Priority Support",
                "first_response_target_minutes": 120,
            }
        ),
        "create_support_ticket": Sample(
            lambda: {"subject": "Customer cannot download invoice", "priority": "urgent"}
        ),
        "update_support_ticket": Sample(lambda: {"status": "open", "priority": "high"}),
        "add_support_ticket_message": Sample(
            lambda: {"direction": "inbound", "channel": "email", "body": "Still broken."}
        ),
        "add_support_ticket_comment": Sample(lambda: {"body": "Checking.", "pinned": True}),
    },
    records={"ticket": "create_support_ticket", "queue": "create_support_queue"},
)
