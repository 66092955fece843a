"""API token table and its public shapes. The plaintext is never stored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, workspace_fk


class ApiToken(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    preview: str = Field(max_length=40)
    scopes: list[str] = Field(sa_type=JSONType)
    abilities: list[str] = Field(sa_type=JSONType)
    rate_limit_per_minute: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


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

    token: str | None = PydanticField(
        default=None,
        description="The full token, shown once; omitted when an idempotent retry is replayed.",
    )
