"""The audit log's list filters and public shape."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.fields import UtcDatetime
from core.pagination import ListParams

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ListAuditIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    operation: str | None = Field(default=None, max_length=80, description="Only this operation.")
    channel: str | None = Field(default=None, max_length=10, description="rest, mcp or cli.")
    token_id: str | None = Field(default=None, max_length=40, description="Only this token.")
    outcome: str | None = Field(
        default=None, max_length=80, description="'ok', 'replayed' or an error code."
    )
    since: UtcDatetime | None = Field(default=None, description="Entries at or after this time.")
    until: UtcDatetime | None = Field(default=None, description="Entries before this time.")
    request_id: str | None = Field(
        default=None, max_length=40, description="The entry of this request id."
    )
    path: str | None = Field(
        default=None,
        max_length=500,
        description="REST requests to this endpoint URL (e.g. /api/v1/contacts/con_…).",
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        # A query string is validated leniently: no number may pass as a Unix time.
        if isinstance(value, str) and not ISO_DATE.match(value):
            raise ValueError("an ISO-8601 date-time with a UTC offset is required")
        return value


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
    path: str | None = None
    created_at: datetime
