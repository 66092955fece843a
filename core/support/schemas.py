"""Support inputs and public shapes (descriptions double as MCP tool documentation).

Field names and enum values are the reference API's (003 "Support")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.fields import (
    CUSTOM_FIELD_KEY_RE,
    CUSTOM_FIELDS_SCHEMA,
    OneLine,
    RecordId,
    check_custom_fields,
    one_line,
    record_id,
)
from core.pagination import ListParams

QueueStatus = Literal["active", "paused", "archived"]
TicketStatus = Literal["new", "open", "pending", "waiting_on_customer", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Source = Literal["manual", "email", "chat", "phone", "web", "api", "mcp", "slack", "other"]
Direction = Literal["inbound", "outbound"]
Channel = Source
"""A message's channel: the same values as a ticket's source."""

Scalar = Annotated[str, Field(max_length=1000)] | int | float | bool
CUSTOM_FIELDS_TEXT = "Extra attributes: up to 50 keys of [A-Za-z0-9_-] to scalars."




class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _List(ListParams):
    model_config = ConfigDict(extra="forbid")

    custom_field_key: str | None = Field(
        default=None,
        pattern=CUSTOM_FIELD_KEY_RE.pattern,
        description="Only records with this custom field.",
    )
    custom_field_value: str | None = Field(
        default=None, max_length=1000, description="With custom_field_key: its value, as text."
    )


def _custom_fields(description: str = CUSTOM_FIELDS_TEXT) -> Any:
    return Field(
        default_factory=dict, description=description, json_schema_extra=CUSTOM_FIELDS_SCHEMA
    )


# ---------------------------------------------------------------- queues


class ListQueuesIn(_List):
    query: str | None = Field(default=None, max_length=200, description="Text in key or name.")
    status: QueueStatus | None = Field(default=None, description="Only queues with this status.")


class CreateQueueIn(_In):
    key: OneLine = Field(
        pattern=r"^[a-z0-9_-]{1,60}$", description="Stable key, unique in the workspace."
    )
    name: OneLine = one_line("Display name.", 120, required=True)
    status: QueueStatus = Field(default="active", description="Initial status.")
    description: str | None = Field(default=None, max_length=2_000, description="What it handles.")
    first_response_target_minutes: int | None = Field(
        default=None, ge=1, le=525_600, description="SLA: minutes to the first reply."
    )
    custom_fields: dict[str, Scalar] = _custom_fields()

    check_cf = field_validator("custom_fields")(check_custom_fields)


class QueuePublic(_Out):
    id: str
    key: str
    name: str
    status: QueueStatus
    description: str | None = None
    first_response_target_minutes: int | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- tickets


def _link(what: str, prefix: str) -> Any:
    return record_id(f"linked {what}", prefix)


class ListTicketsIn(_List):
    query: str | None = Field(
        default=None, max_length=200, description="Free text over subject, description, category."
    )
    status: TicketStatus | None = Field(default=None, description="Only this status.")
    priority: Priority | None = Field(default=None, description="Only this priority.")
    source: Source | None = Field(default=None, description="Only this source.")
    category: OneLine | None = one_line("Only this category.", 60)
    queue_id: RecordId | None = record_id("queue", "queue")
    assignee_id: OneLine | None = one_line("Only tickets assigned to this user or agent.")
    contact_id: RecordId | None = _link("contact", "con")
    company_id: RecordId | None = _link("company", "com")
    deal_id: RecordId | None = _link("deal", "deal")
    lead_id: RecordId | None = _link("lead", "lead")
    invoice_id: RecordId | None = _link("invoice", "inv")
    breached: bool | None = Field(
        default=None, description="true: first-response SLA missed; false: not (yet) missed."
    )


class TicketLinks(_In):
    contact_id: RecordId | None = _link("contact", "con")
    company_id: RecordId | None = _link("company", "com")
    deal_id: RecordId | None = _link("deal", "deal")
    lead_id: RecordId | None = _link("lead", "lead")
    invoice_id: RecordId | None = _link("invoice", "inv")


LINKS = ("queue_id", "contact_id", "company_id", "deal_id", "lead_id", "invoice_id")
"""Ticket columns naming another record of the workspace."""


class CreateTicketIn(TicketLinks):
    subject: OneLine = one_line("What the customer needs.", 300, required=True)
    description: str | None = Field(default=None, max_length=20_000, description="Details.")
    status: TicketStatus = Field(default="new", description="Initial status.")
    priority: Priority = Field(default="normal", description="Default normal.")
    source: Source | None = Field(default=None, description="Default: the channel (api, mcp).")
    category: OneLine | None = one_line("Category, e.g. billing.", 60)
    queue_id: RecordId | None = record_id("queue (sets the SLA)", "queue")
    assignee_id: OneLine | None = one_line("Who handles it (user or agent id).")
    custom_fields: dict[str, Scalar] = _custom_fields()

    check_cf = field_validator("custom_fields")(check_custom_fields)


class UpdateTicketIn(TicketLinks):
    ticket_id: RecordId = record_id("ticket", "ticket", required=True)
    subject: OneLine | None = Field(
        default=None, min_length=1, max_length=300, description="New subject."
    )
    description: str | None = Field(default=None, max_length=20_000, description="New details.")
    status: TicketStatus | None = Field(
        default=None, description="New status; a closed ticket can only be reopened."
    )
    priority: Priority | None = Field(default=None, description="New priority.")
    source: Source | None = Field(default=None, description="New source.")
    category: OneLine | None = one_line("New category (null clears).", 60)
    queue_id: RecordId | None = record_id("queue (null clears; resets an unmet SLA)", "queue")
    assignee_id: OneLine | None = one_line("New assignee (null unassigns).")
    custom_fields: dict[str, Scalar | None] | None = Field(
        default=None,
        description="Merged in; null removes a key.",
        json_schema_extra=CUSTOM_FIELDS_SCHEMA,
    )

    check_cf = field_validator("custom_fields")(check_custom_fields)


class TicketIdIn(_In):
    ticket_id: RecordId = record_id("ticket", "ticket", required=True)


class TicketPublic(_Out):
    id: str
    subject: str
    description: str | None = None
    status: TicketStatus
    priority: Priority
    source: Source
    category: str | None = None
    queue_id: str | None = None
    assignee_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    deal_id: str | None = None
    lead_id: str | None = None
    invoice_id: str | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict)
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    sla_breached_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- messages and comments


class _ThreadList(_List):
    ticket_id: RecordId = record_id("ticket", "ticket", required=True)
    query: str | None = Field(default=None, max_length=200, description="Text in the body.")


class ListMessagesIn(_ThreadList):
    direction: Direction | None = Field(default=None, description="Only this direction.")


class AddMessageIn(_In):
    ticket_id: RecordId = record_id("ticket", "ticket", required=True)
    body: str = Field(min_length=1, max_length=50_000, description="The message text.")
    direction: Direction = Field(
        default="outbound",
        description="outbound: a reply to the customer (default); inbound: from the customer.",
    )
    channel: Channel | None = Field(default=None, description="Default: the ticket's source.")
    author_id: OneLine | None = one_line("Who wrote it (user, agent or customer id).")
    custom_fields: dict[str, Scalar] = _custom_fields()

    check_cf = field_validator("custom_fields")(check_custom_fields)


class MessagePublic(_Out):
    id: str
    ticket_id: str
    direction: Direction
    channel: Channel
    body: str
    author_id: str | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict)
    created_at: datetime


class ListCommentsIn(_ThreadList):
    pinned: bool | None = Field(default=None, description="Only pinned (or unpinned) comments.")


class AddCommentIn(_In):
    ticket_id: RecordId = record_id("ticket", "ticket", required=True)
    body: str = Field(min_length=1, max_length=20_000, description="Internal note text.")
    pinned: bool = Field(default=False, description="Pin it to the top of the ticket.")
    author_id: OneLine | None = one_line("Who wrote it (user or agent id).")
    custom_fields: dict[str, Scalar] = _custom_fields()

    check_cf = field_validator("custom_fields")(check_custom_fields)


class CommentPublic(_Out):
    id: str
    ticket_id: str
    body: str
    pinned: bool
    author_id: str | None = None
    custom_fields: dict[str, Scalar] = Field(default_factory=dict)
    created_at: datetime
