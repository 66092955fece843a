"""The webhook domain's own event types and the subscription rule.

The catalogue of built-in event types is assembled from every domain's manifest
(``Domain.event_types``); the naming rule and the built-in check live in the kernel
(``core.events.names``).
"""

from __future__ import annotations

from core.events.names import WILDCARD

EVENT_TYPES: dict[str, str] = {
    "webhook.test": "A test event queued with send_test_webhook_event.",
    "webhook_endpoint.disabled": "A webhook endpoint was disabled after permanent failures.",
}


def subscribed(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` receives ``event_type``."""
    return WILDCARD in event_types or event_type in event_types
