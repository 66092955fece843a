"""Streamable HTTP at ``/mcp`` inside the REST app, with bearer auth and RFC 9728 metadata.

Decisions:

- **Stateless** session manager with JSON responses: every POST is self-contained, so
  any number of API processes can serve ``/mcp`` behind a load balancer without
  sticky sessions. Patchbay sends no server-initiated requests (no sampling or
  elicitation), which is all that stateful sessions would add. Clients speaking the
  modern protocol (2026-07-28) are single-exchange anyway.
- ``/mcp`` is an exact route (no ``Mount``, which would redirect ``/mcp`` → ``/mcp/``).
- The session manager's ``run()`` must be entered in the host app's lifespan
  (``McpHttp.run()``); ``rest/app.py`` does it.
- Host/Origin checks: see ``mcp_server.auth.transport_security``.
- Bodies over ``settings.max_body_bytes`` (the REST limit) answer 413 in the SPEC §3
  error envelope (``payload_too_large``) before the SDK sees them (``BodyLimit``): a
  declared ``Content-Length`` is refused unread, a chunked body is read only up to the
  limit. (The SDK's own limit, 4 MiB with a plain-text 413, is set to the same value
  as a second line.)
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import PayloadTooLarge
from core.runtime import Runtime
from mcp_server.auth import (
    MCP_PATH,
    METADATA_PATH,
    BearerBackend,
    PatchbayTokenVerifier,
    RequireMcpAccess,
    protected_resource_metadata,
    send_domain_error,
    send_json,
    transport_security,
)
from mcp_server.protocol import Rejection, check_message, invalid, parse_error
from mcp_server.server import ToolPolicy, build_server

MCP_METHODS = ["GET", "POST", "DELETE"]


DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes of an oversized body read (and dropped) before the 413, so the client can read
the answer instead of a connection reset; a client sending more is simply cut off."""


class BodyLimit:
    """413 ``payload_too_large`` for request bodies over ``max_bytes``; replays the rest.

    The body is buffered (at most ``max_bytes``) before the SDK sees it. An oversized
    body is drained without being kept, up to ``DRAIN_LIMIT``, then refused.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            if headers.get(b"expect", b"").lower() != b"100-continue":  # else none was sent
                await self._drain(receive, 0)
            await self._too_large(send)
            return
        body = bytearray()
        pending: deque[Message] = deque()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)  # e.g. http.disconnect: pass it on
                break
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                if message.get("more_body", False):
                    await self._drain(receive, len(body))
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        if scope.get("method") == "POST":
            rejection = _check_body(bytes(body), headers)
            if rejection is not None:
                await send_json(send, rejection.http_status, rejection.body())
                return
        pending.appendleft({"type": "http.request", "body": bytes(body), "more_body": False})

        async def replay() -> Message:
            return pending.popleft() if pending else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, seen: int) -> None:
        while seen <= DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            seen += len(message.get("body", b""))

    async def _too_large(self, send: Send) -> None:
        error = PayloadTooLarge(f"The request body exceeds {self.max_bytes} bytes.")
        # the unread rest of the body is not drained
        await send_domain_error(send, error, {"connection": "close"})


def _check_body(body: bytes, headers: dict[bytes, bytes]) -> Rejection | None:
    """A short JSON-RPC error for a body the SDK would answer with a validation dump."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return parse_error()
    except RecursionError:
        return invalid("it is nested too deeply.")
    text_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()}
    return check_message(message, text_headers)


@dataclass
class McpHttp:
    """The pieces a host ASGI app needs to serve MCP."""

    session_manager: StreamableHTTPSessionManager
    endpoint: ASGIApp
    metadata_endpoint: object
    path: str = MCP_PATH
    metadata_paths: tuple[str, ...] = (METADATA_PATH, METADATA_PATH + MCP_PATH)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Enter once, in the host app's lifespan."""
        async with self.session_manager.run():
            yield


def build_http(runtime: Runtime, *, policy: ToolPolicy | None = None) -> McpHttp:
    """The ``/mcp`` endpoint for ``runtime`` (one session manager per app)."""
    settings = runtime.settings
    policy = policy or ToolPolicy.from_settings(settings, runtime.registry)
    server = build_server(runtime, policy=policy)
    session_manager = StreamableHTTPSessionManager(
        app=server,
        stateless=True,
        json_response=True,
        security_settings=transport_security(settings),
        max_request_body_size=settings.max_body_bytes,
    )
    guarded = BodyLimit(StreamableHTTPASGIApp(session_manager), settings.max_body_bytes)
    endpoint = AuthenticationMiddleware(
        AuthContextMiddleware(RequireMcpAccess(guarded, runtime, policy)),
        backend=BearerBackend(PatchbayTokenVerifier(runtime)),
    )
    return McpHttp(session_manager, endpoint, protected_resource_metadata(settings))
