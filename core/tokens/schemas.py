"""Token inputs and public shapes: the secret appears in ``TokenCreated`` only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.fields import OneLine, one_line
from core.pagination import ListParams
from core.scopes import ALL_ABILITIES, ALL_SCOPES, SCOPE_WILDCARDS, expand_scopes

ScopeName = Literal[(*ALL_SCOPES, *SCOPE_WILDCARDS, "*")]  # type: ignore[valid-type]
AbilityName = Literal[ALL_ABILITIES]  # type: ignore[valid-type]


class ListTokensIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    include_revoked: bool = Field(default=False, description="Also list revoked tokens.")


class CreateTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = one_line("A memorable name for the token.", 200, required=True)
    scopes: list[ScopeName] = Field(
        min_length=1,
        max_length=30,
        # 'area:*' is expanded when the token is minted: later scopes never widen it.
        description="Scopes, at most the caller's; 'crm:*' = every crm scope, '*' = all.",
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
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Requests per minute (omit: the server's); at most the caller's own.",
    )

    @field_validator("scopes", mode="after")
    @classmethod
    def _expand(cls, value: list[str]) -> list[str]:
        return expand_scopes(value)


class TokenIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_id: str = Field(max_length=40, description="Id of the token (tok_...).")


class TokenPublic(BaseModel):
    """A token as listed: never the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    preview: str
    scopes: list[str]
    abilities: list[str]
    rate_limit_per_minute: int | None = None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreated(TokenPublic):
    """A token at creation: the only time ``token`` (the plaintext) is shown."""

    token: str | None = Field(
        default=None,
        description="The full token, shown once; omitted when an idempotent retry is replayed.",
    )
