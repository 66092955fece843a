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


def build_safe_transport(
    *,
    allow_private_network: bool,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    resolver: Resolver | None = None,
) -> SafeTransport:
    """The SSRF-guarded transport under every outbound request (see ``build_safe_client``)."""
    if allow_private_network:
        logger.warning(
            "outbound HTTP client built with allow_private_network=True: "
            "plain http and loopback/private addresses are reachable"
        )
    return SafeTransport(
        allow_private_network=allow_private_network,
        resolver=resolver,
        max_body_bytes=max_body_bytes,
    )


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
    transport = build_safe_transport(
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


async def send_through(
    transport: SafeTransport,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """One request straight through the guarded transport, its (capped) body read.

    For hot paths that want none of ``AsyncClient``'s layers (cookies, auth, redirect
    handling, default headers), which cost webhook delivery ~30 % of its CPU. The guard
    is the transport, so it applies exactly as through the client: refusals raise
    :class:`core.net.URLNotAllowed`, network failures ``httpx`` errors; redirects are
    returned as they are.
    """
    request = httpx.Request(
        method,
        url,
        content=content,
        headers={"accept-encoding": "identity", **headers},
        extensions={"timeout": httpx.Timeout(timeout).as_dict()},
    )
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response
