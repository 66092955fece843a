"""Per-token rate limits with ``limits``: in memory by default, Redis when configured.

The count is shared by REST and MCP (one key per token) and, with Redis, by every
server process. Without its Redis the limiter fails closed: ``check()`` refuses to start
and, if Redis goes away later, every count raises ``RateLimiterUnavailable`` (503) —
serving without limits would let one token take every process down, and counting per
process would multiply every limit by the number of processes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from core.errors import RateLimiterUnavailable

log = logging.getLogger("patchbay.ratelimit")

REDIS_TIMEOUT_SECONDS = 2
"""Connect and command timeout: an unreachable Redis answers 503 soon, not after minutes."""


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
        options: dict[str, float] = {}
        if redis_url:
            options = {
                "connect_timeout": REDIS_TIMEOUT_SECONDS,
                "stream_timeout": REDIS_TIMEOUT_SECONDS,
            }
        storage = storage_from_string(
            _storage_uri(redis_url), key_prefix=key_prefix, wrap_exceptions=True, **options
        )
        assert isinstance(storage, Storage)
        self.redis_url = redis_url
        self.storage = storage
        self._limiter = FixedWindowRateLimiter(storage)

    async def check(self) -> None:
        """Raise ``RateLimiterUnavailable`` unless the store answers (run at start-up)."""
        if not await self.storage.check():
            raise RateLimiterUnavailable(
                f"Redis at {_safe(self.redis_url)} (PATCHBAY_REDIS_URL) is unreachable. "
                "Patchbay does not serve without the rate limiter it was configured with: "
                "start Redis, fix the URL, or unset it to count in memory (one process)."
            )

    async def hit(self, key: str, per_minute: int) -> RateState:
        """Count one request for ``key`` and say whether it is within ``per_minute``."""
        item = RateLimitItemPerMinute(per_minute)
        try:
            allowed = await self._limiter.hit(item, "token", key)
            stats = await self._limiter.get_window_stats(item, "token", key)
        except StorageError as exc:
            log.error("rate limiter store unreachable: %s", exc)
            raise RateLimiterUnavailable() from None
        return RateState(allowed, per_minute, max(0, stats.remaining), int(stats.reset_time) + 1)

    async def exhausted(
        self, namespace: str, key: str, limit: int, window_seconds: int
    ) -> int | None:
        """Seconds until ``key``'s window ends if it already used up ``limit`` events,
        else None (counts nothing; e.g. sign-in failures before checking a password)."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        try:
            if await self._limiter.test(item, namespace, key):
                return None
            stats = await self._limiter.get_window_stats(item, namespace, key)
        except StorageError as exc:
            log.error("rate limiter store unreachable: %s", exc)
            raise RateLimiterUnavailable() from None
        return max(1, int(stats.reset_time - time.time()) + 1)

    async def count(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Count one event (e.g. a sign-in failure) for ``key`` in a ``window_seconds``
        fixed window of ``limit``."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        try:
            await self._limiter.hit(item, namespace, key)
        except StorageError as exc:
            log.error("rate limiter store unreachable: %s", exc)
            raise RateLimiterUnavailable() from None

    async def forget(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Clear ``key``'s count (e.g. an account's failures after a successful sign-in)."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        try:
            await self._limiter.clear(item, namespace, key)
        except StorageError as exc:
            log.error("rate limiter store unreachable: %s", exc)
            raise RateLimiterUnavailable() from None

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()


def _safe(url: str | None) -> str:
    """``url`` without its password, for messages."""
    if not url or "@" not in url:
        return str(url)
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
