"""Event type names: the rule every key follows, and which keys are built in.

The built-in types are those the platform's domains declare (``Domain.event_types``):
only the system emits them. Any other well-formed key is a custom event type.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from core.platform import platform_of

WILDCARD = "*"
"""Subscribing to ``*`` means every event type, built-in or custom."""

EVENT_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""An event key: lowercase, dotted, at least two segments (``campaign.kickoff``)."""


def is_builtin(session: AsyncSession, key: str) -> bool:
    """Whether ``key`` is a built-in event type of the session's platform."""
    return key in platform_of(session).event_types


def category_of(session: AsyncSession, key: str) -> str:
    """The category a key is listed under: its domain's, or a custom key's first segment."""
    return platform_of(session).event_categories.get(key) or key.split(".", 1)[0]
