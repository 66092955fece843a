"""Who is at the dashboard: the session cookie, CSRF tokens and the member's principal.

- The session cookie (``pb_session``) holds an opaque token; the server keeps only its
  SHA-256 (``core.members``), so signing out or a password reset revokes it at once.
  It is HttpOnly, SameSite=Lax and Secure whenever the request came over https.
- CSRF: every form carries a token. Signed in, it is derived from the session token
  (a synchronizer token bound to the session, never stored). Signed out (sign-in,
  invitation, reset forms) it is a double-submit token: a random cookie ``pb_csrf``
  that the form must repeat. A POST without the right token is refused (403).
- A dashboard call is dispatched with a ``Principal`` built from the membership: the
  member's effective scopes in the chosen workspace, the workspace's plan, modules and
  status; no token (the audit row names the member).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

import core.members.service as members
from core.db import WorkspaceId, utcnow
from core.errors import DomainError
from core.principal import Principal
from core.runtime import Runtime
from core.scopes import ALL_ABILITIES
from core.workspaces import repository as workspaces
from core.workspaces.plans import plan_for

SESSION_COOKIE = "pb_session"
WORKSPACE_COOKIE = "pb_workspace"
ANON_CSRF_COOKIE = "pb_csrf"
CSRF_FIELD = "csrf_token"


class CsrfRefused(DomainError):
    code = "csrf_failed"
    status = 403
    default_message = (
        "This form was not sent from a page of this dashboard (missing or wrong CSRF "
        "token). Reload the page and try again."
    )


class NoWorkspace(Exception):
    """The member is in no workspace (or not in the chosen one) any more."""


def is_https(request: Request, runtime: Runtime) -> bool:
    base = runtime.settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def set_cookie(
    response: Response,
    request: Request,
    runtime: Runtime,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request, runtime),
    )


def session_csrf(session_token: str) -> str:
    """The CSRF token of a signed-in session (HMAC of a fixed label under its token)."""
    return hmac.new(session_token.encode(), b"patchbay-csrf", hashlib.sha256).hexdigest()


def anonymous_csrf(request: Request) -> tuple[str, bool]:
    """The double-submit token of a signed-out visitor and whether the cookie is new."""
    existing = request.cookies.get(ANON_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(24), True


def check_csrf(expected: str | None, sent: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRefused()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass
class Visitor:
    """A signed-in member, and the workspace they are looking at (None: in none)."""

    session_token: str
    member_id: str
    email: str
    name: str | None
    workspaces: list[members.WorkspaceRole]
    current: members.WorkspaceRole | None
    principal: Principal | None

    @property
    def csrf(self) -> str:
        return session_csrf(self.session_token)

    def can(self, scope: str) -> bool:
        return self.principal is not None and scope in self.principal.scopes


async def visitor(request: Request, runtime: Runtime) -> Visitor | None:
    """The signed-in member of this request (session touched), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        async with runtime.db.session(read_only=True) as session:
            row = await members.verify_session(session, token, touch=False)
            person = await members.person(session, row.member_id)
            spaces = await members.workspaces_of(session, row.member_id)
        if utcnow() - row.last_seen_at >= members.SESSION_TOUCH_RESOLUTION:
            async with runtime.db.session() as session:  # a write at most once a minute
                await members.verify_session(session, token)
    except DomainError:
        return None
    if person is None:
        return None
    wanted = request.cookies.get(WORKSPACE_COOKIE)
    current = next((w for w in spaces if w.workspace_id == wanted), spaces[0] if spaces else None)
    principal = None
    if current is not None:
        principal = await member_principal(
            runtime, current.workspace_id, row.member_id, person.email
        )
    return Visitor(token, row.member_id, person.email, person.name, spaces, current, principal)


async def member_principal(
    runtime: Runtime, ws: WorkspaceId, member_id: str, email: str
) -> Principal | None:
    """The gate's caller for a member acting in ``ws``: their effective scopes there."""
    async with runtime.db.session(ws, read_only=True) as session:
        row = await workspaces.get(session, ws)
        scopes = await members.effective_scopes(session, ws, member_id)
    if row is None or not scopes:
        return None
    now = utcnow()
    return Principal(
        workspace_id=WorkspaceId(row.id),
        workspace_name=row.name,
        workspace_status=row.status,
        plan=plan_for(row.plan),
        enabled_modules=frozenset(row.enabled_modules),
        token_id="",
        token_name=email,
        scopes=scopes,
        abilities=frozenset(ALL_ABILITIES),  # channels of the tokens a member may mint
        rate_limit_per_minute=None,
        last_used_at=now,  # no token to touch
        created_at=now,
        expires_at=None,
        rest_api_enabled=row.rest_api_enabled,
        member_id=member_id,
    )
