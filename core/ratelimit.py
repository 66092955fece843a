"""Per-token rate limits with ``limits``: in memory by default, Redis when configured.

The count is shared by REST and MCP (one key per token) and, with Redis, by every
server process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class RateState:
    """Where a token stands in the current window (what the ``X-RateLimit-*`` headers say)."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int

    @property
    def retry_after_seconds(self) -> int:
        return max(1, self.reset_epoch - int(time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }


def _storage_uri(redis_url: str | None) -> str:
    if not redis_url:
        return "async+memory://"
    scheme, rest = redis_url.split("://", 1)
    return f"async+{scheme}://{rest}"


class RateLimiter:
    """Fixed one-minute windows per token."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "patchbay") -> None:
        storage = storage_from_string(_storage_uri(redis_url), key_prefix=key_prefix)
        assert isinstance(storage, Storage)
        self.storage = storage
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, key: str, per_minute: int) -> RateState:
        """Count one request for ``key`` and say whether it is within ``per_minute``."""
        item = RateLimitItemPerMinute(per_minute)
        allowed = await self._limiter.hit(item, "token", key)
        stats = await self._limiter.get_window_stats(item, "token", key)
        return RateState(allowed, per_minute, max(0, stats.remaining), int(stats.reset_time) + 1)

    async def peek(self, key: str, per_minute: int) -> RateState:
        """Where ``key`` stands, without counting a request (for the headers of calls
        refused before the rate limit is applied)."""
        item = RateLimitItemPerMinute(per_minute)
        stats = await self._limiter.get_window_stats(item, "token", key)
        return RateState(
            stats.remaining > 0, per_minute, max(0, stats.remaining), int(stats.reset_time) + 1
        )

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()
