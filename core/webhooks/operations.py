"""Webhook endpoints, deliveries and integration event types (module ``integrations``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import core.webhooks.fanout  # noqa: F401  (subscribes the fan-out whenever the registry loads)
from core.errors import Conflict, NotFound, Unprocessable
from core.operations import Context, Kind, Operation, Toolset
from core.pagination import ListParams, Page, paginate
from core.webhooks import repository, service
from core.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    EventTypePublic,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookEndpoint,
    WebhookEndpointPublic,
    WebhookEndpointWithSecret,
    delivery_public,
    endpoint_public,
    endpoint_with_secret,
)

MODULE = "integrations"
TOOLSET = "webhooks"

_EVENT_TYPE = Field(
    min_length=1, max_length=120, description="An event type key (e.g. contact.created) or '*'."
)


class WebhookIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")


class ListWebhooksIn(ListParams):
    model_config = ConfigDict(extra="forbid")

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


class CreateWebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="A name for the endpoint.")
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


class UpdateWebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
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


class ListDeliveriesIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    webhook_id: str = Field(max_length=40, description="Webhook endpoint id (wh_...).")
    event_type: str | None = Field(
        default=None, max_length=120, description="Only deliveries of this event type."
    )
    status: DeliveryStatus | None = Field(
        default=None, description="Only deliveries with this status."
    )


class ListEventTypesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        default=None, max_length=200, description="Free-text search across keys and descriptions."
    )
    category: str | None = Field(
        default=None, max_length=60, description="Only this category (crm, support, workflows…)."
    )
    source: Literal["builtin", "custom"] | None = Field(
        default=None, description="Only built-in or only custom event types."
    )


class RegisterEventTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=3,
        max_length=120,
        description="Lowercase dotted key, e.g. campaign.kickoff.",
    )
    category: str | None = Field(
        default=None,
        max_length=60,
        description="A grouping label; defaults to the key's first segment.",
    )
    description: str | None = Field(
        default=None, max_length=500, description="What the event means."
    )


# ------------------------------------------------------------------ handlers


async def list_webhooks(ctx: Context, args: ListWebhooksIn) -> Page[WebhookEndpointPublic]:
    stmt = repository.endpoints_query(
        ctx.workspace_id,
        query=args.query,
        status=args.status.value if args.status else None,
        event_type=args.event_type,
    )
    page = await paginate(
        ctx.session, stmt, WebhookEndpoint.id, limit=args.limit, cursor=args.cursor
    )
    return Page([endpoint_public(row) for row in page.items], page.next_cursor)


async def create_webhook(ctx: Context, args: CreateWebhookIn) -> WebhookEndpointWithSecret:
    endpoint, secret = await service.create_endpoint(
        ctx.session,
        ctx.workspace_id,
        ctx.settings,
        name=args.name,
        url=args.url,
        event_types=args.event_types,
        description=args.description,
    )
    ctx.resource_id = endpoint.id
    return endpoint_with_secret(endpoint, secret)


async def get_webhook(ctx: Context, args: WebhookIdIn) -> WebhookEndpointPublic:
    endpoint = await service.get_endpoint(ctx.session, ctx.workspace_id, args.webhook_id)
    return endpoint_public(endpoint)


async def update_webhook(ctx: Context, args: UpdateWebhookIn) -> WebhookEndpointWithSecret:
    changes = service.EndpointChanges(
        name=args.name,
        url=args.url,
        description=args.description,
        event_types=args.event_types,
        status=args.status,
        rotate_secret=args.rotate_secret,
    )
    endpoint, secret = await service.update_endpoint(
        ctx.session, ctx.workspace_id, ctx.settings, args.webhook_id, changes
    )
    ctx.resource_id = endpoint.id
    return endpoint_with_secret(endpoint, secret)


async def send_test(ctx: Context, args: WebhookIdIn) -> WebhookDeliveryPublic:
    delivery = await service.queue_test(ctx.session, ctx.workspace_id, args.webhook_id)
    ctx.resource_id = delivery.id
    return delivery_public(delivery)


async def list_deliveries(ctx: Context, args: ListDeliveriesIn) -> Page[WebhookDeliveryPublic]:
    await service.get_endpoint(ctx.session, ctx.workspace_id, args.webhook_id)
    stmt = repository.deliveries_query(
        ctx.workspace_id,
        args.webhook_id,
        event_type=args.event_type,
        status=args.status.value if args.status else None,
    )
    page = await paginate(
        ctx.session, stmt, WebhookDelivery.id, limit=args.limit, cursor=args.cursor
    )
    return Page([delivery_public(row) for row in page.items], page.next_cursor)


async def list_event_types(ctx: Context, args: ListEventTypesIn) -> Page[EventTypePublic]:
    items = await service.list_event_types(
        ctx.session, ctx.workspace_id, query=args.query, category=args.category, source=args.source
    )
    return Page([EventTypePublic.model_validate(i, from_attributes=True) for i in items], None)


async def register_event_type(ctx: Context, args: RegisterEventTypeIn) -> EventTypePublic:
    row = await service.register_event_type(
        ctx.session,
        ctx.workspace_id,
        key=args.key,
        category=args.category,
        description=args.description,
    )
    ctx.resource_id = row.id
    return EventTypePublic(
        id=row.id,
        key=row.key,
        category=row.category,
        description=row.description,
        source="custom",
        created_at=row.created_at,
    )


_COMMON = {"module": MODULE, "toolset": TOOLSET}

OPERATIONS = [
    Operation(
        name="list_webhook_endpoints",
        summary="List webhook endpoints",
        description=(
            "List the workspace's outbound webhook endpoints, newest first, optionally "
            "searching names and URLs, by status or by subscribed event type. Secrets are "
            "never returned, only a preview."
        ),
        scope="integrations:read",
        kind=Kind.read,
        method="GET",
        path="/webhooks",
        input_model=ListWebhooksIn,
        output_model=WebhookEndpointPublic,
        handler=list_webhooks,
        paginated=True,
        **_COMMON,
    ),
    Operation(
        name="create_webhook_endpoint",
        summary="Create a webhook endpoint",
        description=(
            "Register an https URL to receive signed POSTs (Standard Webhooks) for the given "
            "event types or '*'. The signing secret (whsec_...) is in this response only (not "
            "in a replay); store it. Fails with url_not_allowed for non-public "
            "or non-https URLs and event_type_unknown for unregistered types."
        ),
        scope="integrations:write",
        kind=Kind.write,
        method="POST",
        path="/webhooks",
        input_model=CreateWebhookIn,
        output_model=WebhookEndpointWithSecret,
        handler=create_webhook,
        success_status=201,
        errors=(Unprocessable,),
        # Shown once: never stored for idempotent replays, which answer without it.
        extra={"secret_fields": ("secret",)},
        **_COMMON,
    ),
    Operation(
        name="get_webhook_endpoint",
        summary="Get a webhook endpoint",
        description=(
            "One webhook endpoint: URL, subscribed event types, status, secret preview and "
            "failure tracking."
        ),
        scope="integrations:read",
        kind=Kind.read,
        method="GET",
        path="/webhooks/{webhook_id}",
        input_model=WebhookIdIn,
        output_model=WebhookEndpointPublic,
        handler=get_webhook,
        errors=(NotFound,),
        **_COMMON,
    ),
    Operation(
        name="update_webhook_endpoint",
        summary="Update a webhook endpoint",
        description=(
            "Change an endpoint's name, URL, description, event types or status (active, "
            "paused, disabled). rotate_secret=true issues a new signing secret, returned in "
            "this response only (an idempotent replay omits it)."
        ),
        scope="integrations:write",
        kind=Kind.write,
        method="PATCH",
        path="/webhooks/{webhook_id}",
        input_model=UpdateWebhookIn,
        output_model=WebhookEndpointWithSecret,
        handler=update_webhook,
        destructive=True,  # overwrites the URL or subscriptions, or replaces the secret
        idempotent=False,
        errors=(NotFound, Unprocessable),
        extra={"secret_fields": ("secret",)},
        **_COMMON,
    ),
    Operation(
        name="send_test_webhook_event",
        summary="Queue a test webhook event",
        description=(
            "Queue a webhook.test delivery to this endpoint only and return the delivery "
            "(status pending). Watch it with list_webhook_deliveries."
        ),
        scope="integrations:write",
        kind=Kind.write,
        method="POST",
        path="/webhooks/{webhook_id}/test",
        input_model=WebhookIdIn,
        output_model=WebhookDeliveryPublic,
        handler=send_test,
        success_status=202,
        open_world=True,  # sends a signed request to the endpoint
        errors=(NotFound, Conflict),
        **_COMMON,
    ),
    Operation(
        name="list_webhook_deliveries",
        summary="List webhook deliveries",
        description=(
            "Deliveries to one endpoint, newest first: event type, status (pending, retrying, "
            "succeeded, failed), attempt count, last status code and error, next attempt."
        ),
        scope="integrations:read",
        kind=Kind.read,
        method="GET",
        path="/webhooks/{webhook_id}/deliveries",
        input_model=ListDeliveriesIn,
        output_model=WebhookDeliveryPublic,
        handler=list_deliveries,
        paginated=True,
        errors=(NotFound,),
        **_COMMON,
    ),
    Operation(
        name="list_integration_event_types",
        summary="List integration event types",
        description=(
            "Every event type webhooks can subscribe to: the built-in catalogue and the "
            "workspace's registered custom types (source builtin or custom)."
        ),
        scope="integrations:read",
        kind=Kind.read,
        method="GET",
        path="/integrations/events",
        input_model=ListEventTypesIn,
        output_model=EventTypePublic,
        handler=list_event_types,
        paginated=True,
        **_COMMON,
    ),
    Operation(
        name="register_integration_event_type",
        summary="Register a custom event type",
        description=(
            "Register a workspace event type (lowercase dotted key such as campaign.kickoff) "
            "that webhooks can subscribe to and workflows can fire. Fails with "
            "event_type_reserved for a built-in key, event_type_exists for a registered one."
        ),
        scope="integrations:write",
        kind=Kind.write,
        method="POST",
        path="/integrations/events",
        input_model=RegisterEventTypeIn,
        output_model=EventTypePublic,
        handler=register_event_type,
        success_status=201,
        errors=(Conflict, Unprocessable),
        **_COMMON,
    ),
]

TOOLSETS = (
    Toolset("webhooks", "Webhook endpoints, deliveries, test events and custom event types."),
)
