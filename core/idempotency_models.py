"""Stored idempotent responses (SPEC §3), keyed by token and key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk


class IdempotencyRecord(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (tenant_pk("idempotency_keys", "token_id", "key"),)

    workspace_id: str = workspace_fk()
    token_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    operation: str = Field(max_length=80)
    request_hash: str = Field(max_length=64)
    state: str = Field(max_length=12, description="in_flight or completed")
    response_status: int | None = None
    response_body: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    locked_until: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
