"""Webhook endpoints, their deliveries (a job queue) and custom event types.

The signing secret is stored as issued, in its own column, because every delivery is
signed with it (HMAC needs the key itself, a hash would not do). Encrypting it at rest
(envelope encryption with an operator key) is future work; it is never returned by the
API after the create or rotate response.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, workspace_fk
from core.jobs import JobFields


class EndpointStatus(StrEnum):
    active = "active"
    paused = "paused"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"


READY_STATUSES = (DeliveryStatus.pending.value, DeliveryStatus.retrying.value)


class WebhookEndpoint(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.Index("ix_webhook_endpoints_workspace_id_id", "workspace_id", "id"),
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
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
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
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=40, ondelete="CASCADE")
    event_id: str = Field(max_length=80)
    event_type: str = Field(max_length=120)
    payload: dict[str, Any] = Field(sa_type=JSONType)
    event_created_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=DeliveryStatus.pending, max_length=20)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_response_ms: int | None = None
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IntegrationEventType(SQLModel, WorkspaceOwned, table=True):
    """A workspace-defined (custom) event type."""

    __tablename__ = "integration_event_types"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "key", name="uq_integration_event_types_key"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    key: str = Field(max_length=120)
    category: str = Field(max_length=60)
    description: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)


# ------------------------------------------------------------------ public shapes


class WebhookEndpointPublic(BaseModel):
    """An endpoint as listed: never the secret, only its preview."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    url: str
    description: str | None = None
    event_types: list[str]
    status: EndpointStatus
    secret_preview: str
    signing_secret_preview: str | None = None
    first_failure_at: datetime | None = None
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointPublic):
    """Create and rotate responses: ``secret`` is shown here and never again."""

    secret: str | None = None


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    last_status_code: int | None = None
    last_error: str | None = None
    last_response_ms: int | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class EventTypePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str | None = None
    key: str
    category: str
    description: str | None = None
    source: str
    created_at: datetime | None = None


def endpoint_public(row: WebhookEndpoint) -> WebhookEndpointPublic:
    """The API shape of ``row`` (never the secret)."""
    return WebhookEndpointPublic(
        id=row.id,
        name=row.name,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        status=EndpointStatus(row.status),
        secret_preview=row.secret_preview,
        signing_secret_preview=row.secret_preview,
        first_failure_at=row.first_failure_at,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def endpoint_with_secret(row: WebhookEndpoint, secret: str | None) -> WebhookEndpointWithSecret:
    """Create/update responses; ``secret`` only when it was just issued."""
    return WebhookEndpointWithSecret(**endpoint_public(row).model_dump(), secret=secret)


def delivery_public(row: WebhookDelivery) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic(
        id=row.id,
        webhook_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempt_count=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_response_ms=row.last_response_ms,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
