"""Token management over the API (scope ``workspace:admin``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from core.errors import Forbidden, NotFound
from core.operations import Context, Kind, Operation, Toolset
from core.pagination import ListParams, Page, paginate
from core.scopes import ALL_ABILITIES, ALL_SCOPES
from core.tokens import service
from core.tokens.models import ApiToken, TokenCreated, TokenPublic

ScopeName = Literal[ALL_SCOPES]  # type: ignore[valid-type]
AbilityName = Literal[ALL_ABILITIES]  # type: ignore[valid-type]


class ListTokensIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    include_revoked: bool = Field(default=False, description="Also list revoked tokens.")


class CreateTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="A memorable name for the token.")
    scopes: list[ScopeName] = Field(
        min_length=1, max_length=30, description="Scopes to grant; at most the caller's own."
    )
    abilities: list[AbilityName] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="Channels (api:rest, api:mcp); at most the caller's, which are the default.",
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days until expiry (omit: none); capped at the caller's own expiry.",
    )


class TokenIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_id: str = Field(max_length=40, description="Id of the token (tok_...).")


async def list_tokens(ctx: Context, args: ListTokensIn) -> Page[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.workspace_id == ctx.workspace_id)
    if not args.include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    return await paginate(ctx.session, stmt, ApiToken.id, limit=args.limit, cursor=args.cursor)


async def create_token(ctx: Context, args: CreateTokenIn) -> TokenCreated:
    """A token never grants more than its creator holds: scopes, abilities, lifetime."""
    beyond = set(args.scopes) - ctx.principal.scopes
    if beyond:
        raise Forbidden(
            f"A token cannot grant scopes it does not hold: {', '.join(sorted(beyond))}.",
            code="scope_escalation",
        )
    abilities = sorted(ctx.principal.abilities) if args.abilities is None else args.abilities
    beyond = set(abilities) - ctx.principal.abilities
    if beyond:
        raise Forbidden(
            f"A token cannot grant abilities it does not hold: {', '.join(sorted(beyond))}.",
            code="ability_escalation",
        )
    created = await service.issue_token(
        ctx.session,
        ctx.workspace_id,
        name=args.name,
        scopes=args.scopes,
        abilities=abilities,
        expires_in_days=args.expires_in_days,
        not_after=ctx.principal.expires_at,
    )
    ctx.resource_id = created.id
    return created


async def revoke_token(ctx: Context, args: TokenIdIn) -> ApiToken:
    token = await service.revoke_token(ctx.session, ctx.workspace_id, args.token_id)
    ctx.resource_id = token.id
    return token


OPERATIONS = [
    Operation(
        name="list_tokens",
        summary="List API tokens",
        description=(
            "List the workspace's API tokens (name, preview, scopes, abilities, expiry, last "
            "use), newest first. Secrets are never returned."
        ),
        scope="workspace:admin",
        kind=Kind.read,
        toolset="admin",
        method="GET",
        path="/tokens",
        input_model=ListTokensIn,
        output_model=TokenPublic,
        handler=list_tokens,
        paginated=True,
    ),
    Operation(
        name="create_token",
        summary="Create an API token",
        description=(
            "Create a token with the given scopes and abilities (never more than the caller "
            "holds) that expires no later than the caller. The full token is in this response "
            "only (an idempotent replay omits it); store it at once. Fails with "
            "token_limit_reached when the plan's active-token limit is used up."
        ),
        scope="workspace:admin",
        kind=Kind.write,
        toolset="admin",
        method="POST",
        path="/tokens",
        input_model=CreateTokenIn,
        output_model=TokenCreated,
        handler=create_token,
        success_status=201,
        # Never stored for idempotent replays: a replay answers without the secret.
        extra={"secret_fields": ("token",)},
    ),
    Operation(
        name="revoke_token",
        summary="Revoke an API token",
        description=(
            "Revoke a token of this workspace. It answers 401 from its next request on. "
            "Revoking an already revoked token changes nothing."
        ),
        scope="workspace:admin",
        kind=Kind.delete,
        toolset="admin",
        method="DELETE",
        path="/tokens/{token_id}",
        input_model=TokenIdIn,
        output_model=TokenPublic,
        handler=revoke_token,
        errors=(NotFound,),
    ),
]

TOOLSETS = (Toolset("admin", "API tokens and the audit log (workspace:admin)."),)
