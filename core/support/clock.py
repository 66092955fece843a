"""The support desk's clock: every timestamp the domain writes and the SLA decisions read
it, so tests can move time (``monkeypatch.setattr(clock, "now", …)``)."""

from __future__ import annotations

from datetime import datetime

from core.db import utcnow


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return utcnow()
