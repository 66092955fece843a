"""Outbound webhooks: endpoints, signed deliveries with retries, custom event types.

Importing the package subscribes the fan-out to domain events.
"""

from core.webhooks import fanout as fanout
