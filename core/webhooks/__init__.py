"""Outbound webhooks: endpoints, signed deliveries with retries, custom event types."""
