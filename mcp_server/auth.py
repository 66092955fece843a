"""Bearer auth for ``/mcp``: the SDK's token verification over ``core.tokens``.

- ``PatchbayTokenVerifier.verify_token`` authenticates the Patchbay token (same rules as
  REST: unknown, revoked and expired tokens are refused) and returns an ``AccessToken``
  whose ``client_id`` is the token id and whose ``scopes`` are the token's scopes. The
  ``Principal`` rides along in ``claims["principal"]`` so the tool list needs no second
  lookup within the same HTTP request.
- ``bearer_credentials`` is the one ``Authorization`` parser of both channels (REST uses
  it too), so a header one accepts the other accepts.
- ``RequireMcpAccess`` answers 401 (with ``WWW-Authenticate`` pointing at the RFC 9728
  metadata) without a valid token and 403 when the token may not use MCP (ability,
  plan, workspace status), in the SPEC §3 error envelope. Every authenticated request
  counts against the token's rate limit (``tools/list`` and ``initialize`` too, shared
  with REST): over it, 429 with ``Retry-After``; without the limiter's Redis, 503.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.config import Settings
from core.errors import DomainError, Unauthenticated
from core.gateway import check_channel, count_request, new_request_id, request_counted
from core.operations import Channel
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from core.tokens import service as tokens
from core.tokens.service import Principal

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


_BEARER = re.compile(r"[ \t]*bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)


def bearer_credentials(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None.

    The scheme is case-insensitive and may be followed by any run of spaces or tabs
    (RFC 9110 whitespace); the token is one run of non-blank characters.
    """
    match = _BEARER.fullmatch(authorization or "")
    return match.group(1) if match else None


class PatchbayTokenVerifier:
    """``mcp.server.auth.provider.TokenVerifier`` over Patchbay's API tokens."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            async with self.runtime.db.session(read_only=True) as session:
                principal = await tokens.authenticate(session, token)
        except Unauthenticated:
            return None
        return AccessToken(
            token=token,
            client_id=principal.token_id,
            scopes=sorted(principal.scopes),
            expires_at=int(principal.expires_at.timestamp()) if principal.expires_at else None,
            subject=principal.workspace_id,
            claims={"principal": principal},
        )


class BearerBackend(AuthenticationBackend):
    """Starlette authentication for ``/mcp`` with ``bearer_credentials`` (the SDK's own
    backend accepts exactly one space after ``Bearer``, REST accepted more)."""

    def __init__(self, verifier: PatchbayTokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        token = bearer_credentials(conn.headers.get("authorization"))
        access = await self.verifier.verify_token(token) if token else None
        if access is None:
            return None
        return AuthCredentials(access.scopes), AuthenticatedUser(access)


def principal_of(access: AccessToken | None) -> Principal | None:
    """The principal the verifier attached to an access token."""
    value = (access.claims or {}).get("principal") if access is not None else None
    return value if isinstance(value, Principal) else None


def base_url(settings: Settings, scope: Scope) -> str:
    """The public base URL: ``public_base_url`` if set, else the request's own origin."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    request = Request(scope)
    return f"{request.url.scheme}://{request.url.netloc}"


def resource_url(settings: Settings, scope: Scope) -> str:
    return base_url(settings, scope) + MCP_PATH


def metadata_url(settings: Settings, scope: Scope) -> str:
    """RFC 9728 path rule: the well-known prefix goes before the resource path."""
    return base_url(settings, scope) + METADATA_PATH + MCP_PATH


def protected_resource_metadata(settings: Settings):  # type: ignore[no-untyped-def]
    """The ``/.well-known/oauth-protected-resource[/mcp]`` endpoint (RFC 9728).

    Patchbay tokens are issued by the CLI and the API (``create_token``), not by an
    OAuth authorization server, so ``authorization_servers`` is omitted.
    """

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "resource": resource_url(settings, request.scope),
                "bearer_methods_supported": ["header"],
                "scopes_supported": list(ALL_SCOPES),
                "resource_name": "Patchbay MCP",
            },
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return endpoint


class RequireMcpAccess:
    """401 without a valid bearer token, 403 when the token may not use MCP, 429 over its
    rate limit; every authenticated request counts once (its tool calls included)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = runtime.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if not isinstance(user, AuthenticatedUser):
            error: DomainError = Unauthenticated(
                "A valid bearer token is required (Authorization: Bearer <token>)."
            )
            challenge = (
                'Bearer realm="patchbay", error="invalid_token", '
                f'error_description="{error.message}", '
                f'resource_metadata="{metadata_url(self.settings, scope)}"'
            )
            await self._reply(send, error, {"www-authenticate": challenge})
            return
        principal = principal_of(user.access_token)
        try:
            if principal is None:
                raise Unauthenticated()
            try:
                check_channel(principal, Channel.mcp)
            except DomainError:
                await count_request(self.runtime, principal, raise_over=False)
                raise
            rate = await count_request(self.runtime, principal)
        except DomainError as exc:
            await self._reply(send, exc, exc.headers)
            return
        with request_counted(principal, rate):
            await self.app(scope, receive, send)

    @staticmethod
    async def _reply(send: Send, error: DomainError, headers: dict[str, str]) -> None:
        request_id = new_request_id()
        body = json.dumps(error.body(request_id), separators=(",", ":")).encode()
        raw: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        raw += [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": error.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host/Origin checks against DNS rebinding.

    Allowed: loopback names on any port, plus the host of ``public_base_url``. A server
    reached under any other name (LAN address, ``host.docker.internal`` …) answers 421
    until ``PATCHBAY_PUBLIC_BASE_URL`` names it. Requests without ``Origin`` (every
    non-browser client) pass the Origin check.
    """
    hosts = [f"{h}:*" for h in LOOPBACK_HOSTS] + list(LOOPBACK_HOSTS)
    origins = [f"{scheme}://{h}:*" for scheme in ("http", "https") for h in LOOPBACK_HOSTS]
    origins += [f"{scheme}://{h}" for scheme in ("http", "https") for h in LOOPBACK_HOSTS]
    if settings.public_base_url:
        parts = urlsplit(settings.public_base_url)
        if parts.netloc:
            hosts += [parts.netloc, f"{parts.hostname}:*", str(parts.hostname)]
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(set(hosts)),
        allowed_origins=sorted(set(origins)),
    )
