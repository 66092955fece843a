"""Webhook endpoints, their deliveries (a job queue) and custom event types.

The signing secret is stored as issued, in its own column, because every delivery is
signed with it (HMAC needs the key itself, a hash would not do). Encrypting it at rest
(envelope encryption with an operator key) is future work; it is never returned by the
API after the create or rotate response.
"""

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
from core.webhooks.schemas import DeliveryStatus, EndpointStatus

READY_STATUSES = (DeliveryStatus.pending.value, DeliveryStatus.retrying.value)


class WebhookEndpoint(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        tenant_pk("webhook_endpoints"),
        sa.Index("ix_webhook_endpoints_workspace_id_status", "workspace_id", "status"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=1000)
    event_types: list[str] = Field(sa_type=JSONType)
    status: str = Field(default=EndpointStatus.active, max_length=20)
    secret: str = Field(max_length=100)  # plaintext: needed to sign (see module docstring)
    secret_preview: str = Field(max_length=40)
    first_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WebhookDelivery(JobFields, WorkspaceOwned, table=True):
    """One event for one endpoint. ``id`` doubles as the Standard Webhooks message id."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        tenant_pk("webhook_deliveries"),
        tenant_fk("webhook_deliveries", "endpoint_id", "webhook_endpoints", ondelete="CASCADE"),
        tenant_unique("webhook_deliveries", "endpoint_id", "event_id"),
        sa.Index(
            "ix_webhook_deliveries_workspace_endpoint_id", "workspace_id", "endpoint_id", "id"
        ),
        sa.Index(
            "ix_webhook_deliveries_due",
            "run_after",
            "id",
            postgresql_where=sa.text("status IN ('pending', 'retrying')"),
            sqlite_where=sa.text("status IN ('pending', 'retrying')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    endpoint_id: str = Field(max_length=40)
    event_id: str = Field(max_length=80)
    event_type: str = Field(max_length=120)
    payload: dict[str, Any] = Field(sa_type=JSONType)
    event_created_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=DeliveryStatus.pending, max_length=20)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_response_ms: int | None = None
    last_response_excerpt: str | None = Field(default=None, max_length=500)
    """The first 500 characters of the receiver's last answer (its body, as text)."""
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IntegrationEventType(SQLModel, WorkspaceOwned, table=True):
    """A workspace-defined (custom) event type."""

    __tablename__ = "integration_event_types"
    __table_args__ = (
        tenant_pk("integration_event_types"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_integration_event_types_key"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    key: str = Field(max_length=120)
    category: str = Field(max_length=60)
    description: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
