"""The audit log's list filters and public shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.pagination import ListParams


class ListAuditIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    operation: str | None = Field(default=None, max_length=80, description="Only this operation.")
    channel: str | None = Field(default=None, max_length=10, description="rest, mcp or cli.")
    token_id: str | None = Field(default=None, max_length=40, description="Only this token.")
    outcome: str | None = Field(
        default=None, max_length=80, description="'ok', 'replayed' or an error code."
    )


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    token_id: str | None = None
    token_name: str | None = None
    channel: str
    operation: str
    status: int
    outcome: str
    request_id: str
    resource_id: str | None = None
    created_at: datetime
