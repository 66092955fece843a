"""Token rules: issue (within the plan's limit and the creator's own grants), revoke,
authenticate, record use. Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, utcnow
from core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TokenLimitReached,
    Unauthenticated,
    ValidationFailed,
)
from core.principal import Principal
from core.scopes import ALL_ABILITIES, parse_abilities, parse_scopes
from core.tokens import repository, secrets
from core.tokens.models import ApiToken
from core.tokens.schemas import CreateTokenIn, TokenCreated
from core.workspaces import repository as workspaces
from core.workspaces.plans import plan_for

LAST_USED_RESOLUTION = timedelta(seconds=30)


async def issue_token(
    session: AsyncSession,
    workspace_id: WorkspaceId,
    *,
    name: str,
    scopes: list[str] | str,
    abilities: list[str] | str = ALL_ABILITIES,
    expires_in_days: int | None = None,
    rate_limit_per_minute: int | None = None,
    not_after: datetime | None = None,
) -> TokenCreated:
    """Create a token; the plaintext is in the result and nowhere else.

    ``not_after`` caps the expiry (a token minted by another expires no later than it).
    """
    try:
        scope_list = parse_scopes(scopes)
        ability_list = parse_abilities(
            list(abilities) if not isinstance(abilities, str) else abilities
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("Token name must be 1-200 characters.")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationFailed("expires_in_days must be between 1 and 3650.")
    workspace = await workspaces.get(session, workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    now = utcnow()
    # Serialise concurrent issuers on the workspace row so the limit cannot be overshot.
    await workspaces.lock(session, workspace_id, now)
    limit = plan_for(workspace.plan).active_tokens
    if await repository.count_active(session, workspace_id, now) >= limit:
        raise TokenLimitReached(
            f"The workspace already has {limit} active tokens, the most its plan allows. "
            "Revoke one first."
        )
    issued = secrets.issue()
    token = ApiToken(
        id=issued.token_id,
        workspace_id=workspace_id,
        name=name,
        token_hash=issued.token_hash,
        preview=issued.preview,
        scopes=scope_list,
        abilities=ability_list,
        rate_limit_per_minute=rate_limit_per_minute,
        created_at=now,
        expires_at=_expiry(now, expires_in_days, not_after),
    )
    session.add(token)
    await session.flush()
    return TokenCreated.model_validate({**token.model_dump(), "token": issued.plaintext})


def _expiry(now: datetime, days: int | None, not_after: datetime | None) -> datetime | None:
    expires_at = now + timedelta(days=days) if days else None
    if not_after is not None and (expires_at is None or expires_at > not_after):
        return not_after
    return expires_at


async def create_token(session: AsyncSession, creator: Principal, a: CreateTokenIn) -> TokenCreated:
    """A token minted by ``creator`` (over the API): never more scopes or abilities than
    it holds, nor a longer life; abilities default to the creator's."""
    beyond = set(a.scopes) - creator.scopes
    if beyond:
        raise Forbidden(
            f"A token cannot grant scopes it does not hold: {', '.join(sorted(beyond))}.",
            code="scope_escalation",
        )
    abilities = sorted(creator.abilities) if a.abilities is None else a.abilities
    beyond = set(abilities) - creator.abilities
    if beyond:
        raise Forbidden(
            f"A token cannot grant abilities it does not hold: {', '.join(sorted(beyond))}.",
            code="ability_escalation",
        )
    limit = a.rate_limit_per_minute
    if creator.rate_limit_per_minute is not None:
        limit = min(limit or creator.rate_limit_per_minute, creator.rate_limit_per_minute)
    return await issue_token(
        session,
        creator.workspace_id,
        name=a.name,
        scopes=a.scopes,
        abilities=abilities,
        expires_in_days=a.expires_in_days,
        rate_limit_per_minute=limit,
        not_after=creator.expires_at,
    )


async def rotate_token(session: AsyncSession, caller: Principal, token_id: str) -> TokenCreated:
    """A new secret for the same token record (name, scopes, abilities, expiry kept); the
    old secret answers 401 from the next request on. Never for a token holding more than
    the caller (its new secret would hand the caller those grants)."""
    token = await repository.get(session, caller.workspace_id, token_id)
    if token is None:
        raise NotFound("token", token_id)
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        raise Conflict("A revoked or expired token cannot be rotated.", code="token_inactive")
    beyond = (set(token.scopes) - caller.scopes) | (set(token.abilities) - caller.abilities)
    if beyond:
        raise Forbidden(
            f"This token holds grants the caller does not: {', '.join(sorted(beyond))}.",
            code="scope_escalation",
        )
    issued = secrets.issue(token.id)
    token.token_hash = issued.token_hash
    token.preview = issued.preview
    await session.flush()
    return TokenCreated.model_validate({**token.model_dump(), "token": issued.plaintext})


async def revoke_token(session: AsyncSession, workspace_id: WorkspaceId, token_id: str) -> ApiToken:
    """Revoke a token of the workspace; it answers 401 from the next request on."""
    return await _revoke(session, await repository.get(session, workspace_id, token_id), token_id)


async def _revoke(session: AsyncSession, token: ApiToken | None, token_id: str) -> ApiToken:
    if token is None:
        raise NotFound("token", token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
    return token


async def authenticate(session: AsyncSession, plaintext: str | None) -> Principal:
    """Resolve a bearer token to a ``Principal`` or raise ``Unauthenticated``.

    The same message answers a missing, malformed, unknown, revoked or expired token.
    """
    if not plaintext:
        raise Unauthenticated("A bearer token is required (Authorization: Bearer <token>).")
    token_id = secrets.parse_token_id(plaintext)
    row = (
        await repository.credentials(session, token_id, secrets.hash_token(plaintext))
        if token_id
        else None
    )
    if (
        row is None
        or not secrets.matches(plaintext, row.token_hash)
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= utcnow())
    ):
        raise Unauthenticated("The token is invalid, expired or revoked.")
    assert token_id is not None
    return Principal(
        workspace_id=WorkspaceId(row.workspace_id),
        workspace_name=row.workspace_name,
        workspace_status=row.workspace_status,
        plan=plan_for(row.plan),
        enabled_modules=frozenset(row.enabled_modules),
        token_id=token_id,
        token_name=row.name,
        scopes=frozenset(row.scopes),
        abilities=frozenset(row.abilities),
        rate_limit_per_minute=row.rate_limit_per_minute,
        last_used_at=row.last_used_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        rest_api_enabled=bool(row.rest_api_enabled),
    )


def needs_touch(principal: Principal) -> bool:
    """Whether this use should be recorded in ``last_used_at`` (at most every
    ``LAST_USED_RESOLUTION``, to keep reads cheap)."""
    last = principal.last_used_at
    return last is None or utcnow() - last >= LAST_USED_RESOLUTION


async def touch_last_used(session: AsyncSession, principal: Principal) -> None:
    """Record use in the session's transaction, if ``needs_touch``."""
    if needs_touch(principal):
        await repository.touch(session, principal.workspace_id, principal.token_id, utcnow())
