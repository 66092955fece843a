"""The outbound policy applied to an endpoint's URL when it is saved.

Resolving the host can take seconds, so the check runs before the write transaction
opens (the create and update operations' ``prepare`` step) and the service only reads
its verdict. Delivery re-checks every connection (``core.net``), so a host that later
resolves to a refused address is still never reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import httpx

from core.config import Settings
from core.errors import Unprocessable
from core.net import URLNotAllowed, check_url

URL_CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class CheckedUrl:
    """A URL and the verdict of the policy on it: ``refusal`` is the 422 to answer if the
    URL is saved (None: allowed)."""

    url: str
    refusal: Unprocessable | None = None

    def allowed(self) -> str:
        """The URL, or raise its refusal (``url_not_allowed``)."""
        if self.refusal is not None:
            raise self.refusal
        return self.url


async def check_endpoint_url(url: str, settings: Settings) -> CheckedUrl:
    """Resolve ``url``'s host and check every address (at most 5 s); never raises for a
    refused or unresolvable URL, the verdict says so."""
    try:
        with anyio.fail_after(URL_CHECK_TIMEOUT_SECONDS):
            await check_url(url, allow_private_network=settings.allow_private_network)
    except URLNotAllowed as exc:
        why = "only https URLs of public hosts are accepted"
        if not settings.allow_private_network and await _allowed_on_private_network(url):
            why += (
                ". For local development, start Patchbay with PATCHBAY_ALLOW_PRIVATE_NETWORK=true "
                "to allow loopback and private-network hosts (http or https)"
            )
        return CheckedUrl(url, _refusal(exc.reason, why))
    except (httpx.HTTPError, TimeoutError):
        return CheckedUrl(url, _refusal("unresolvable_host", "its host name does not resolve"))
    return CheckedUrl(url)


async def _allowed_on_private_network(url: str) -> bool:
    """Whether ``PATCHBAY_ALLOW_PRIVATE_NETWORK=true`` would accept ``url`` (then the
    refusal says how to allow it for development)."""
    try:
        with anyio.fail_after(URL_CHECK_TIMEOUT_SECONDS):
            await check_url(url, allow_private_network=True)
    except (URLNotAllowed, httpx.HTTPError, TimeoutError):
        return False
    return True


def _refusal(reason: str, why: str) -> Unprocessable:
    return Unprocessable(
        f"The webhook URL is not allowed ({reason}): {why}.",
        code="url_not_allowed",
        details={"reason": reason},
    )
