"""The webhooks domain: endpoints, signed deliveries (a job queue), custom event types."""

from core.domain import Domain, Sample
from core.ids import new_id
from core.webhooks.catalogue import EVENT_TYPES
from core.webhooks.fanout import cache_lookups, enqueue_event, on_domain_event
from core.webhooks.jobs import QUEUE
from core.webhooks.models import IntegrationEventType, WebhookDelivery, WebhookEndpoint
from core.webhooks.operations import OPERATIONS, TOOLSETS
from core.webhooks.repository import scrub_payloads

DOMAIN = Domain(
    name="webhooks",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(WebhookEndpoint, WebhookDelivery, IntegrationEventType),
    queues=(QUEUE,),
    event_types=EVENT_TYPES,
    event_category="integrations",
    subscribers=(on_domain_event,),
    copy_scrubbers=(scrub_payloads,),
    provides={"event_publisher": enqueue_event, "lookup_cache": cache_lookups},
    samples={
        "create_webhook_endpoint": Sample(
            lambda: {
                "name": "Ops hook",
                "url": "https://127.0.0.1:9/hook",
                "event_types": ["contact.created"],
            }
        ),
        "update_webhook_endpoint": Sample(lambda: {"name": "changed", "status": "paused"}),
        "register_integration_event_type": Sample(lambda: {"key": "campaign.k" + new_id("x")[-8:]}),
    },
    records={"webhook": "create_webhook_endpoint", "delivery": "send_test_webhook_event"},
)
