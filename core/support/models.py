"""The support tables: queues, tickets, messages, comments and the SLA check queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import (
    JSONType,
    UTCDateTime,
    WorkspaceOwned,
    tenant_fk,
    tenant_pk,
    tenant_unique,
    workspace_fk,
)
from core.jobs import JobFields

SLA_READY_STATUSES = ("pending",)
"""An SLA check waits in ``pending`` until the ticket's first-response deadline."""


class SupportQueue(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "support_queues"
    __table_args__ = (
        tenant_pk("support_queues"),
        tenant_unique("support_queues", "key"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    key: str = Field(max_length=60)
    name: str = Field(max_length=120)
    status: str = Field(max_length=20)
    description: str | None = Field(default=None, max_length=2_000)
    first_response_target_minutes: int | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SupportTicket(SQLModel, WorkspaceOwned, table=True):
    """A ticket. ``search_text`` holds subject, description and category (core.search);
    the SLA columns: ``first_response_due_at`` (created_at + the queue's target),
    ``first_responded_at`` (the first outbound message), ``sla_breached_at`` (the
    deadline, once it passed without a response)."""

    __tablename__ = "support_tickets"
    __table_args__ = (
        tenant_pk("support_tickets"),
        tenant_fk("support_tickets", "queue_id", "support_queues"),
        tenant_fk("support_tickets", "contact_id", "contacts"),
        tenant_fk("support_tickets", "company_id", "companies"),
        tenant_fk("support_tickets", "deal_id", "deals"),
        tenant_fk("support_tickets", "lead_id", "leads"),
        tenant_fk("support_tickets", "invoice_id", "invoices"),
        sa.Index("ix_support_tickets_workspace_status_id", "workspace_id", "status", "id"),
        sa.Index(
            "ix_support_tickets_workspace_queue_status_id",
            "workspace_id",
            "queue_id",
            "status",
            "id",
        ),
        sa.Index("ix_support_tickets_workspace_contact_id", "workspace_id", "contact_id", "id"),
        sa.Index("ix_support_tickets_workspace_assignee_id", "workspace_id", "assignee_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    subject: str = Field(max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: str = Field(max_length=30)
    priority: str = Field(max_length=10)
    source: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=60)
    queue_id: str | None = Field(default=None, max_length=40)
    assignee_id: str | None = Field(default=None, max_length=200)
    contact_id: str | None = Field(default=None, max_length=40)
    company_id: str | None = Field(default=None, max_length=40)
    deal_id: str | None = Field(default=None, max_length=40)
    lead_id: str | None = Field(default=None, max_length=40)
    invoice_id: str | None = Field(default=None, max_length=40)
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    first_response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    search_text: str = Field(default="", max_length=21_000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SupportTicketMessage(SQLModel, WorkspaceOwned, table=True):
    """The customer-visible thread of a ticket."""

    __tablename__ = "support_ticket_messages"
    __table_args__ = (
        tenant_pk("support_ticket_messages"),
        tenant_fk("support_ticket_messages", "ticket_id", "support_tickets", ondelete="CASCADE"),
        sa.Index(
            "ix_support_ticket_messages_workspace_ticket_id", "workspace_id", "ticket_id", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    ticket_id: str = Field(max_length=40)
    direction: str = Field(max_length=10)
    channel: str = Field(max_length=20)
    body: str = Field(max_length=50_000)
    author_id: str | None = Field(default=None, max_length=200)
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SupportTicketComment(SQLModel, WorkspaceOwned, table=True):
    """An internal note on a ticket (never shown to the customer)."""

    __tablename__ = "support_ticket_comments"
    __table_args__ = (
        tenant_pk("support_ticket_comments"),
        tenant_fk("support_ticket_comments", "ticket_id", "support_tickets", ondelete="CASCADE"),
        sa.Index(
            "ix_support_ticket_comments_workspace_ticket_id", "workspace_id", "ticket_id", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    ticket_id: str = Field(max_length=40)
    body: str = Field(max_length=20_000)
    pinned: bool = Field(default=False)
    author_id: str | None = Field(default=None, max_length=200)
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SupportSlaCheck(JobFields, WorkspaceOwned, table=True):
    """One ticket's first-response check, due at its deadline (``run_after``): the worker
    then marks the ticket breached if no outbound message came (``core.support.sla``)."""

    __tablename__ = "support_sla_checks"
    __table_args__ = (
        tenant_pk("support_sla_checks"),
        tenant_fk("support_sla_checks", "ticket_id", "support_tickets", ondelete="CASCADE"),
        tenant_unique("support_sla_checks", "ticket_id"),
        sa.Index(
            "ix_support_sla_checks_due",
            "run_after",
            "id",
            postgresql_where=sa.text("status IN ('pending')"),
            sqlite_where=sa.text("status IN ('pending')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    run_after: datetime = Field(sa_type=UTCDateTime)  # indexed by ix_support_sla_checks_due
    ticket_id: str = Field(max_length=40)
    status: str = Field(default="pending", max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
