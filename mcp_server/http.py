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
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp

from core.runtime import Runtime
from mcp_server.auth import (
    MCP_PATH,
    METADATA_PATH,
    PatchbayTokenVerifier,
    RequireMcpAccess,
    protected_resource_metadata,
    transport_security,
)
from mcp_server.server import ToolPolicy, build_server

MCP_METHODS = ["GET", "POST", "DELETE"]


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
    server = build_server(runtime, policy=policy)
    session_manager = StreamableHTTPSessionManager(
        app=server,
        stateless=True,
        json_response=True,
        security_settings=transport_security(settings),
    )
    endpoint = AuthenticationMiddleware(
        AuthContextMiddleware(RequireMcpAccess(StreamableHTTPASGIApp(session_manager), settings)),
        backend=BearerAuthBackend(PatchbayTokenVerifier(runtime)),
    )
    return McpHttp(session_manager, endpoint, protected_resource_metadata(settings))
