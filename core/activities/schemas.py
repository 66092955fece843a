"""Activity inputs and public shape (descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from core.deprecation import Renamed
from core.fields import OneLine, UtcDatetime, one_line
from core.pagination import ListParams
from core.related import RelatedType

ActivityType = Literal["note", "call", "email", "meeting", "agent_action"]
RELATED_TYPE = "Type of the linked record."
COLUMNS = {"related_resource_type": "related_type", "related_resource_id": "related_id"}
"""Argument name → the activities column that holds it (the columns kept their names)."""
RelatedTypeArg = Annotated[RelatedType | None, Renamed("related_type")]
RelatedIdArg = Annotated[str | None, Renamed("related_id")]


class SearchActivitiesIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        default=None,
        max_length=200,
        description="Free text over summary and body; every word must match.",
    )
    type: ActivityType | None = Field(default=None, description="Only activities of this type.")
    related_resource_type: RelatedTypeArg = Field(default=None, description=RELATED_TYPE)
    related_resource_id: RelatedIdArg = Field(
        default=None, max_length=40, description="Only activities linked to this record id."
    )


class LogActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActivityType = Field(description="What happened; agent_action for your own actions.")
    summary: OneLine = one_line("One-line summary.", 500, required=True)
    body: str | None = Field(default=None, max_length=20_000, description="Full text/details.")
    related_resource_type: RelatedTypeArg = Field(default=None, description=RELATED_TYPE)
    related_resource_id: RelatedIdArg = Field(
        default=None, max_length=40, description="Id of the linked record (it must exist)."
    )
    occurred_at: UtcDatetime | None = Field(
        default=None, description="When it happened, ISO-8601 with a UTC offset (default now)."
    )


class ActivityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    summary: str
    body: str | None = None
    related_resource_type: str | None = Field(
        default=None, validation_alias=AliasChoices("related_resource_type", "related_type")
    )
    related_resource_id: str | None = Field(
        default=None, validation_alias=AliasChoices("related_resource_id", "related_id")
    )
    occurred_at: datetime
    logged_by: str | None = None
    channel: str | None = None
    created_at: datetime
