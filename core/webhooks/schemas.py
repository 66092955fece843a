"""Webhook inputs and public shapes (the descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.fields import OneLine
from core.pagination import ListParams

if TYPE_CHECKING:
    from core.webhooks.models import WebhookDelivery, WebhookEndpoint


class EndpointStatus(StrEnum):
    active = "active"
    paused = "paused"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _List(ListParams):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ inputs


class WebhookIdIn(_In):
    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")


class ListWebhooksIn(_List):
    query: str | None = Field(
        default=None, max_length=200, description="Free-text search across names and URLs."
    )
    status: EndpointStatus | None = Field(
        default=None, description="Only endpoints with this status: active, paused, disabled."
    )
    event_type: str | None = Field(
        default=None,
        max_length=120,
        description="Only endpoints subscribed to this event type (or to '*').",
    )


class CreateWebhookIn(_In):
    name: OneLine = Field(min_length=1, max_length=200, description="A name for the endpoint.")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries are POSTed: an https URL of a public host.",
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Event type keys to receive, or ['*'] for all.",
    )
    description: str | None = Field(
        default=None, max_length=1000, description="What the endpoint is for."
    )


class UpdateWebhookIn(_In):
    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )
    url: str | None = Field(
        default=None, min_length=1, max_length=2048, description="New https URL of a public host."
    )
    description: str | None = Field(default=None, max_length=1000, description="New description.")
    event_types: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Replace the subscribed event types (or ['*']).",
    )
    status: EndpointStatus | None = Field(
        default=None,
        description="paused: queued deliveries wait; disabled: they fail.",
    )
    rotate_secret: bool = Field(
        default=False,
        description="Issue a new signing secret (returned this once).",
    )


class ListDeliveriesIn(_List):
    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")
    event_type: str | None = Field(
        default=None, max_length=120, description="Only deliveries of this event type."
    )
    status: DeliveryStatus | None = Field(
        default=None, description="Only deliveries with this status."
    )


class DeliveryIdIn(_In):
    delivery_id: str = Field(max_length=40, description="Delivery id (whd_...).")


class ListEventTypesIn(_In):
    query: str | None = Field(
        default=None, max_length=200, description="Free-text search across keys and descriptions."
    )
    category: OneLine | None = Field(
        default=None, max_length=60, description="Only this category (crm, support, workflows…)."
    )
    source: Literal["builtin", "custom"] | None = Field(
        default=None, description="Only built-in or only custom event types."
    )


class RegisterEventTypeIn(_In):
    key: OneLine = Field(
        min_length=3,
        max_length=120,
        description="Lowercase dotted key, e.g. campaign.kickoff.",
    )
    category: OneLine | None = Field(
        default=None,
        max_length=60,
        description="A grouping label; defaults to the key's first segment.",
    )
    description: str | None = Field(
        default=None, max_length=500, description="What the event means."
    )


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


class WebhookEndpointDeleted(BaseModel):
    """What deleting an endpoint answers."""

    id: str
    name: str
    url: str
    deleted: bool = True
    canceled_deliveries: int
    """Queued deliveries (pending, retrying) that will not be sent."""


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


class WebhookDeliveryDetail(WebhookDeliveryPublic):
    payload: dict[str, Any] = Field(description="The event's data as sent (the body's data).")
    last_response_excerpt: str | None = Field(
        default=None, description="The first 500 characters of the receiver's last answer."
    )


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


def delivery_detail(row: WebhookDelivery) -> WebhookDeliveryDetail:
    return WebhookDeliveryDetail(
        **delivery_public(row).model_dump(),
        payload=row.payload,
        last_response_excerpt=row.last_response_excerpt,
    )
