"""The webhook-delivery queue for ``core.jobs`` workers."""

from __future__ import annotations

from core.jobs import Queue
from core.webhooks.delivery import deliver
from core.webhooks.models import READY_STATUSES, WebhookDelivery

QUEUE = Queue(
    name="webhooks",
    model=WebhookDelivery,
    ready_statuses=READY_STATUSES,
    handler=deliver,
)
