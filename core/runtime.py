"""The long-lived objects a process needs: settings, database, rate limiter, registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.audit.writer import AuditWriter
from core.config import Settings
from core.db import Database
from core.operations import Registry
from core.ratelimit import RateLimiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    limiter: RateLimiter
    registry: Registry
    audit: AuditWriter = field(init=False)
    """Group-commits the audit rows written outside a call's own transaction."""

    def __post_init__(self) -> None:
        self.audit = AuditWriter(self.db)

    @classmethod
    def create(cls, settings: Settings, registry: Registry | None = None) -> Runtime:
        """Build the runtime for ``settings`` with the default registry unless one is given."""
        from core.registry import default_registry

        return cls(
            settings=settings,
            db=Database(settings.database_url),
            limiter=RateLimiter(settings.redis_url),
            registry=registry or default_registry(),
        )

    async def close(self) -> None:
        """Release the database pool."""
        await self.db.dispose()
