"""Activity operations (``activity:read`` / ``activity:write``, module ``activity_log``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.activities import service
from core.activities.models import Activity, ActivityPublic
from core.errors import NotFound, ValidationFailed
from core.operations import Context, Kind, Operation, Toolset
from core.pagination import ListParams, Page
from core.related import RelatedType, related_model
from core.timestamps import UtcDatetime

ActivityType = Literal["note", "call", "email", "meeting", "agent_action"]
RELATED_TYPE = "Type of the linked record."


class SearchActivitiesIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        default=None,
        max_length=200,
        description="Free text over summary and body; every word must match.",
    )
    type: ActivityType | None = Field(default=None, description="Only activities of this type.")
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(
        default=None, max_length=40, description="Only activities linked to this record id."
    )


class LogActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActivityType = Field(description="What happened; agent_action for your own actions.")
    summary: str = Field(min_length=1, max_length=500, description="One-line summary.")
    body: str | None = Field(default=None, max_length=20_000, description="Full text/details.")
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(
        default=None, max_length=40, description="Id of the linked record (it must exist)."
    )
    occurred_at: UtcDatetime | None = Field(
        default=None, description="When it happened, ISO-8601 with a UTC offset (default now)."
    )


async def search_activities(ctx: Context, a: SearchActivitiesIn) -> Page[Activity]:
    if a.related_type is not None:
        related_model(ctx.session, a.related_type)  # a type no domain declares: 400
    filters = {k: getattr(a, k) for k in ("type", "related_type", "related_id")}
    return await service.search_activities(
        ctx.session,
        ctx.workspace_id,
        query=a.query,
        filters=filters,
        limit=a.limit,
        cursor=a.cursor,
    )


async def log_activity(ctx: Context, a: LogActivityIn) -> Activity:
    values = a.model_dump()
    values["logged_by"] = ctx.principal.token_name
    values["channel"] = ctx.channel.value
    activity = await service.log_activity(ctx.session, ctx.workspace_id, values)
    ctx.resource_id = activity.id
    return activity


OPERATIONS = [
    Operation(
        name="search_activities",
        summary="Search activities",
        description=(
            "Read the activity timeline (notes, calls, emails, meetings, agent actions), newest "
            "first, by type, linked record (related_type + related_id) or free text `query`."
        ),
        scope="activity:read",
        kind=Kind.read,
        toolset="activities",
        method="GET",
        path="/activities",
        input_model=SearchActivitiesIn,
        output_model=ActivityPublic,
        handler=search_activities,
        paginated=True,
        module="activity_log",
    ),
    Operation(
        name="log_activity",
        summary="Log an activity",
        description=(
            "Record a note, call, email, meeting or an action you took (type agent_action), "
            "optionally linked to a record (related_type + related_id, which must exist)."
        ),
        scope="activity:write",
        kind=Kind.write,
        open_world=True,  # emits an event that webhooks deliver
        toolset="activities",
        method="POST",
        path="/activities",
        input_model=LogActivityIn,
        output_model=ActivityPublic,
        handler=log_activity,
        success_status=201,
        module="activity_log",
        errors=(NotFound, ValidationFailed),
    ),
]

TOOLSETS = (Toolset("activities", "The timeline: notes, calls, emails, meetings."),)
