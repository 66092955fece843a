"""Webhook endpoints, deliveries and integration event types (module ``integrations``)."""

from __future__ import annotations

from core.config import Settings
from core.errors import Conflict, NotFound, Unprocessable
from core.operations import Context, Declare, Toolset
from core.pagination import Page, paginate
from core.webhooks import repository, service
from core.webhooks.models import WebhookDelivery, WebhookEndpoint
from core.webhooks.schemas import (
    CreateWebhookIn,
    DeliveryIdIn,
    EventTypePublic,
    ListDeliveriesIn,
    ListEventTypesIn,
    ListWebhooksIn,
    RegisterEventTypeIn,
    UpdateWebhookIn,
    WebhookDeliveryDetail,
    WebhookDeliveryPublic,
    WebhookEndpointDeleted,
    WebhookEndpointPublic,
    WebhookEndpointWithSecret,
    WebhookIdIn,
    delivery_detail,
    delivery_public,
    endpoint_public,
    endpoint_with_secret,
)
from core.webhooks.urls import CheckedUrl, check_endpoint_url

webhooks = Declare(scope="integrations", toolset="webhooks", module="integrations")


async def prepare_url(
    settings: Settings, args: CreateWebhookIn | UpdateWebhookIn
) -> CheckedUrl | None:
    """The ``prepare`` step of create and update: resolve and check the URL's host before
    the write transaction opens (it can take seconds); the handler gets the verdict as
    ``ctx.prepared`` and the service applies it."""
    return None if args.url is None else await check_endpoint_url(args.url, settings)


def _checked(ctx: Context, args: CreateWebhookIn | UpdateWebhookIn) -> CheckedUrl | None:
    """The verdict ``prepare_url`` gave for ``args.url`` (None when no URL was sent)."""
    if args.url is None:
        return None
    checked = ctx.prepared
    if not isinstance(checked, CheckedUrl) or checked.url != args.url:
        raise RuntimeError("the webhook URL was not checked before the transaction")
    return checked


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
    url = _checked(ctx, args)
    assert url is not None  # a create always has a URL
    endpoint, secret = await service.create_endpoint(ctx.session, ctx.workspace_id, args, url)
    ctx.resource_id = endpoint.id
    return endpoint_with_secret(endpoint, secret)


async def get_webhook(ctx: Context, args: WebhookIdIn) -> WebhookEndpointPublic:
    endpoint = await service.get_endpoint(ctx.session, ctx.workspace_id, args.webhook_id)
    return endpoint_public(endpoint)


async def update_webhook(ctx: Context, args: UpdateWebhookIn) -> WebhookEndpointWithSecret:
    endpoint, secret = await service.update_endpoint(
        ctx.session, ctx.workspace_id, args, _checked(ctx, args)
    )
    ctx.resource_id = endpoint.id
    return endpoint_with_secret(endpoint, secret)


async def delete_webhook(ctx: Context, args: WebhookIdIn) -> WebhookEndpointDeleted:
    endpoint, canceled = await service.delete_endpoint(
        ctx.session, ctx.workspace_id, args.webhook_id
    )
    ctx.resource_id = endpoint.id  # the audit row names the deleted endpoint
    return WebhookEndpointDeleted(
        id=endpoint.id, name=endpoint.name, url=endpoint.url, canceled_deliveries=canceled
    )


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


async def get_delivery(ctx: Context, args: DeliveryIdIn) -> WebhookDeliveryDetail:
    row = await service.get_delivery(ctx.session, ctx.workspace_id, args.delivery_id)
    return delivery_detail(row)


async def retry_delivery(ctx: Context, args: DeliveryIdIn) -> WebhookDeliveryPublic:
    row = await service.retry_delivery(ctx.session, ctx.workspace_id, args.delivery_id)
    ctx.resource_id = row.id
    return delivery_public(row)


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


OPERATIONS = [
    webhooks.list(
        "list_webhook_endpoints", "/webhooks", list_webhooks, ListWebhooksIn,
        WebhookEndpointPublic,
        summary="List webhook endpoints",
        description="List the workspace's outbound webhook endpoints, newest first, optionally "
        "searching names and URLs, by status or by subscribed event type. Secrets are never "
        "returned, only a preview.",
    ),
    webhooks.create(
        "create_webhook_endpoint", "/webhooks", create_webhook, CreateWebhookIn,
        WebhookEndpointWithSecret,
        summary="Create a webhook endpoint",
        description="Register an https URL to receive signed POSTs (Standard Webhooks) for the "
        "given event types or '*'. The signing secret (whsec_...) is in this response only "
        "(not in a replay); store it. Fails with url_not_allowed for non-public or non-https "
        "URLs; any well-formed event name may be subscribed to.",
        errors=(Unprocessable,),
        prepare=prepare_url,
        # Shown once: never stored for idempotent replays, which answer without it.
        extra={"secret_fields": ("secret",)},
    ),
    webhooks.get(
        "get_webhook_endpoint", "/webhooks/{webhook_id}", get_webhook, WebhookIdIn,
        WebhookEndpointPublic,
        summary="Get a webhook endpoint",
        description="One webhook endpoint: URL, subscribed event types, status, secret preview "
        "and failure tracking.",
        errors=(NotFound,),
    ),
    webhooks.update(  # overwrites the URL or subscriptions, or replaces the secret
        "update_webhook_endpoint", "/webhooks/{webhook_id}", update_webhook, UpdateWebhookIn,
        WebhookEndpointWithSecret,
        summary="Update a webhook endpoint",
        description="Change an endpoint's name, URL, description, event types or status "
        "(active, paused, disabled). rotate_secret=true issues a new signing secret, returned "
        "in this response only (an idempotent replay omits it).",
        idempotent=False,  # rotate_secret issues a new secret each time
        errors=(NotFound, Unprocessable),
        prepare=prepare_url,
        extra={"secret_fields": ("secret",)},
    ),
    webhooks.delete(
        "delete_webhook_endpoint", "/webhooks/{webhook_id}", delete_webhook, WebhookIdIn,
        WebhookEndpointDeleted,
        summary="Delete a webhook endpoint",
        description="Delete an endpoint and its delivery log; its queued deliveries are "
        "cancelled (canceled_deliveries says how many). Audited.",
        errors=(NotFound,),
    ),
    webhooks.action(
        "send_test_webhook_event", "POST", "/webhooks/{webhook_id}/test", send_test,
        WebhookIdIn, WebhookDeliveryPublic,
        summary="Queue a test webhook event",
        description="Queue a webhook.test delivery to this endpoint only and return the "
        "delivery (status pending). Watch it with list_webhook_deliveries.",
        success_status=202,
        open_world=True,  # sends a signed request to the endpoint
        errors=(NotFound, Conflict),
        extra={"created_id": "delivery_id"},  # the delivery it queues (OpenAPI links)
    ),
    webhooks.list(
        "list_webhook_deliveries", "/webhooks/{webhook_id}/deliveries", list_deliveries,
        ListDeliveriesIn, WebhookDeliveryPublic,
        summary="List webhook deliveries",
        description="Deliveries to one endpoint, newest first: event type, status (pending, "
        "retrying, succeeded, failed), attempt count, last status code and error, next "
        "attempt.",
        errors=(NotFound,),
    ),
    webhooks.get(
        "get_webhook_delivery", "/webhook-deliveries/{delivery_id}",
        get_delivery, DeliveryIdIn, WebhookDeliveryDetail,
        summary="Get a webhook delivery",
        description="One delivery (an id from list_webhook_deliveries) with the event payload "
        "it sends and the start (500 characters) of the receiver's last answer, besides its "
        "status and attempts.",
        errors=(NotFound,),
    ),
    webhooks.action(
        "retry_webhook_delivery", "POST", "/webhook-deliveries/{delivery_id}/retry",
        retry_delivery, DeliveryIdIn, WebhookDeliveryPublic,
        summary="Retry a webhook delivery now",
        description="Send a delivery that has not succeeded as soon as a worker is free: a "
        "failed one gets one more attempt, a retrying or pending one skips its wait. "
        "delivery_not_retryable for a succeeded or in-flight one.",
        success_status=202,
        open_world=True,  # sends a signed request to the endpoint
        errors=(NotFound, Conflict),
    ),
    webhooks.list(
        "list_integration_event_types", "/integrations/events", list_event_types,
        ListEventTypesIn, EventTypePublic,
        summary="List integration event types",
        description="Every event type webhooks can subscribe to: the built-in catalogue and "
        "the workspace's registered custom types (source builtin or custom).",
    ),
    webhooks.create(
        "register_integration_event_type", "/integrations/events", register_event_type,
        RegisterEventTypeIn, EventTypePublic,
        summary="Register a custom event type",
        description="Register a workspace event type (lowercase dotted key such as "
        "campaign.kickoff) that webhooks can subscribe to and workflows can fire. Fails with "
        "event_type_reserved for a built-in key, event_type_exists for a registered one.",
        errors=(Conflict, Unprocessable),
    ),
]  # fmt: skip

TOOLSETS = (
    Toolset("webhooks", "Webhook endpoints, deliveries, test events and custom event types."),
)
