"""The long-lived objects a process needs: settings, database, rate limiter and the
platform (the assembled domains: registry, queues, events …)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.audit.writer import AuditWriter
from core.config import Settings
from core.db import Database
from core.operations import Registry
from core.platform import Platform
from core.ratelimit import RateLimiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    limiter: RateLimiter
    platform: Platform
    audit: AuditWriter = field(init=False)
    """Group-commits the audit rows written outside a call's own transaction."""

    def __post_init__(self) -> None:
        self.db.platform = self.platform  # every session of this runtime carries it
        self.audit = AuditWriter(self.db)

    @property
    def registry(self) -> Registry:
        return self.platform.registry

    @classmethod
    def create(cls, settings: Settings, platform: Platform) -> Runtime:
        """The runtime for ``settings`` serving ``platform``."""
        return cls(
            settings=settings,
            db=Database(settings.database_url, role=settings.database_role or None),
            limiter=RateLimiter(settings.redis_url),
            platform=platform,
        )

    async def close(self) -> None:
        """Release the database pool."""
        await self.db.dispose()
