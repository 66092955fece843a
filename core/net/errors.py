"""Exceptions raised by the outbound-network guard."""

from __future__ import annotations

from typing import ClassVar


class URLNotAllowed(Exception):
    """An outbound URL was refused by the SSRF policy.

    ``reason`` is a short machine-readable code (e.g. ``"loopback"``,
    ``"scheme_not_allowed"``, ``"6to4:private"``); ``code`` is the stable error
    code callers surface to clients. This is deliberately *not* an
    ``httpx.HTTPError``: a refusal is permanent and must not be retried like a
    network failure, so callers catch it explicitly.
    """

    code: ClassVar[str] = "url_not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"
