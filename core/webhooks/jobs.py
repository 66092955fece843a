"""The webhook-delivery queue for ``core.jobs`` workers: batches of ``BATCH_SIZE``."""

from __future__ import annotations

from core.jobs import Queue
from core.webhooks.delivery import BATCH_SIZE, deliver
from core.webhooks.models import READY_STATUSES, WebhookDelivery

QUEUE = Queue(
    name="webhooks",
    model=WebhookDelivery,
    ready_statuses=READY_STATUSES,
    batch_handler=deliver,
    batch_size=BATCH_SIZE,
)
