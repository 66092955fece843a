"""Token management over the API (scope ``workspace:admin``, toolset ``admin``)."""

from __future__ import annotations

from core.errors import Conflict, NotFound
from core.operations import Context, Declare, Toolset
from core.pagination import Page
from core.tokens import repository, service
from core.tokens.models import ApiToken
from core.tokens.schemas import CreateTokenIn, ListTokensIn, TokenCreated, TokenIdIn, TokenPublic

tokens = Declare(
    scope="workspace",
    toolset="admin",
    read_scope="workspace:admin",
    write_scope="workspace:admin",
)


async def list_tokens(ctx: Context, a: ListTokensIn) -> Page[ApiToken]:
    return await repository.list_tokens(
        ctx.session,
        ctx.workspace_id,
        include_revoked=a.include_revoked,
        limit=a.limit,
        cursor=a.cursor,
    )


async def create_token(ctx: Context, a: CreateTokenIn) -> TokenCreated:
    created = await service.create_token(ctx.session, ctx.principal, a)
    ctx.resource_id = created.id
    return created


async def rotate_token(ctx: Context, a: TokenIdIn) -> TokenCreated:
    ctx.resource_id = a.token_id
    return await service.rotate_token(ctx.session, ctx.principal, a.token_id)


async def revoke_token(ctx: Context, a: TokenIdIn) -> ApiToken:
    token = await service.revoke_token(ctx.session, ctx.workspace_id, a.token_id)
    ctx.resource_id = token.id
    return token


OPERATIONS = [
    tokens.list(
        "list_tokens", "/tokens", list_tokens, ListTokensIn, TokenPublic,
        summary="List API tokens",
        description=(
            "List the workspace's API tokens (name, preview, scopes, abilities, expiry, last "
            "use), newest first. Secrets are never returned."
        ),
    ),
    tokens.create(
        "create_token", "/tokens", create_token, CreateTokenIn, TokenCreated,
        summary="Create an API token",
        description=(
            "Create a token with the given scopes and abilities (never more than the caller "
            "holds) that expires no later than the caller. The full token is in this response "
            "only (an idempotent replay omits it); store it at once. Fails with "
            "token_limit_reached when the plan's active-token limit is used up."
        ),
        # Never stored for idempotent replays: a replay answers without the secret.
        extra={"secret_fields": ("token",)},
    ),
    tokens.action(
        "rotate_token", "POST", "/tokens/{token_id}/rotate", rotate_token, TokenIdIn,
        TokenCreated,
        summary="Rotate an API token",
        description=(
            "Issue a new secret for a token: same id, name, scopes, abilities and expiry. The "
            "old secret answers 401 from its next request on. The new token is in this "
            "response only (an idempotent replay omits it)."
        ),
        destructive=True,
        idempotent=False,
        errors=(NotFound, Conflict),
        extra={"secret_fields": ("token",)},
    ),
    tokens.delete(
        "revoke_token", "/tokens/{token_id}", revoke_token, TokenIdIn, TokenPublic,
        summary="Revoke an API token",
        description=(
            "Revoke a token of this workspace. It answers 401 from its next request on. "
            "Revoking an already revoked token changes nothing."
        ),
        errors=(NotFound,),
    ),
]  # fmt: skip

TOOLSETS = (Toolset("admin", "API tokens and the audit log (workspace:admin)."),)
