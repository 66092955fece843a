"""The single factory for outbound HTTP clients (webhooks, crawls)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from core.net.resolver import Resolver
from core.net.transport import DEFAULT_MAX_BODY_BYTES, SafeTransport

logger = logging.getLogger("patchbay.net")


class _NoRedirectClient(httpx.AsyncClient):
    """An ``AsyncClient`` that never follows redirects, even if asked per request."""

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        kwargs["follow_redirects"] = False
        return await super().send(request, **kwargs)


def build_safe_client(
    *,
    allow_private_network: bool,
    timeout: float = 10.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """Build the SSRF-guarded ``httpx.AsyncClient`` all outbound HTTP must use.

    HTTPS only and public addresses only, unless ``allow_private_network`` is
    set (then also ``http://`` and loopback/private addresses). Redirects are
    returned, never followed; bodies are cut at ``max_body_bytes``. Policy
    refusals raise :class:`core.net.URLNotAllowed` from the request call.
    """
    if allow_private_network:
        logger.warning(
            "outbound HTTP client built with allow_private_network=True: "
            "plain http and loopback/private addresses are reachable"
        )
    transport = SafeTransport(
        allow_private_network=allow_private_network,
        resolver=resolver,
        max_body_bytes=max_body_bytes,
    )
    return _NoRedirectClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        max_redirects=0,
        trust_env=False,  # no env proxies / netrc: nothing may bypass the transport
        headers={"Accept-Encoding": "identity"},
    )
