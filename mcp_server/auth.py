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
  plan, workspace status), as JSON-RPC errors carrying the SPEC §3 error object (see
  ``send_domain_error``), and 400 for an unknown toolset in ``X-MCP-Toolsets``. Every
  authenticated request counts against the token's rate limit (``tools/list`` and
  ``initialize`` too, shared with REST): over it, 429 with ``Retry-After``; without the
  limiter's Redis, 503.
"""

from __future__ import annotations

import json
import re
from typing import Protocol
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.config import Settings
from core.errors import DomainError, Unauthenticated
from core.gateway import check_channel, count_request, new_request_id, request_counted
from core.operations import Channel
from core.principal import Principal
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from core.tokens import service as tokens
from mcp_server.errors import UnknownToolset

MCP_PATH = "/mcp"
TOOLSETS_HEADER_NAME = "x-mcp-toolsets"


class ToolPolicyLike(Protocol):
    def check_header(self, toolsets_header: str | None) -> None: ...


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


JSONRPC_CODES = {401: -32001, 403: -32003, 429: -32029, 503: -32053}
"""JSON-RPC codes (server-error range) of errors answered before any MCP message is read."""


async def send_json(
    send: Send, status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> None:
    """One JSON response."""
    raw_body = json.dumps(body, separators=(",", ":")).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw_body)).encode()),
    ]
    raw += [(k.encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": raw_body})


async def send_domain_error(
    send: Send, error: DomainError, headers: dict[str, str] | None = None
) -> None:
    """A refusal of ``/mcp`` before the SDK: a JSON-RPC error whose message starts with
    the SPEC §3 code and whose ``data`` is the SPEC §3 error object.

    MCP clients read it as what it is: the Python SDK surfaces a JSON-RPC error body of a
    4xx as the request's error (a bare ``Server returned an error response`` otherwise),
    and the TypeScript SDK shows the body text.
    """
    request_id = new_request_id()
    envelope = error.body(request_id)["error"]
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": JSONRPC_CODES.get(error.status, -32000),
            "message": f"{error.code}: {error.message}",
            "data": envelope,
        },
    }
    await send_json(send, error.status, body, {"x-request-id": request_id, **(headers or {})})


def _quoted(text: str) -> str:
    """``text`` as an RFC 7230 quoted-string value (ASCII, no quotes or backslashes)."""
    cleaned = text.replace("\\", "/").replace('"', "'")
    return cleaned.encode("ascii", "replace").decode("ascii")


class RequireMcpAccess:
    """401 without a valid bearer token, 403 when the token may not use MCP, 429 over its
    rate limit, 400 for an unknown toolset in ``X-MCP-Toolsets``; each with a message a
    person can act on. Every authenticated request counts once (its tool calls included).
    """

    def __init__(
        self, app: ASGIApp, runtime: Runtime, policy: ToolPolicyLike | None = None
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = runtime.settings
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if not isinstance(user, AuthenticatedUser):
            error: DomainError = Unauthenticated(
                "A valid bearer token is required (Authorization: Bearer <token>): the token "
                "is missing, unknown, expired or revoked. Create one with `patchbay token "
                "create --workspace <id> --name <name> --scopes ... --abilities api:mcp`."
            )
            challenge = (
                'Bearer realm="patchbay", error="invalid_token", '
                f'error_description="{_quoted(error.message)}", '
                f'resource_metadata="{metadata_url(self.settings, scope)}"'
            )
            await send_domain_error(send, error, {"www-authenticate": challenge})
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
            headers = dict(exc.headers)
            if exc.status == 403:
                headers["www-authenticate"] = (
                    'Bearer realm="patchbay", error="insufficient_scope", '
                    f'error_description="{_quoted(exc.message)}"'
                )
            await send_domain_error(send, exc, headers)
            return
        if self.policy is not None:
            try:
                self.policy.check_header(Headers(scope=scope).get(TOOLSETS_HEADER_NAME))
            except ValueError as exc:
                await send_domain_error(send, UnknownToolset(str(exc)), rate.headers())
                return
        with request_counted(principal, rate):
            await self.app(scope, receive, send)


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
