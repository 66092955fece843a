"""The API token table. The plaintext is never stored: its SHA-256 and a preview are."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_pk, tenant_unique, workspace_fk


class ApiToken(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (tenant_pk("api_tokens"), tenant_unique("api_tokens", "token_hash"))

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64)
    preview: str = Field(max_length=40)
    scopes: list[str] = Field(sa_type=JSONType)
    abilities: list[str] = Field(sa_type=JSONType)
    rate_limit_per_minute: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
