"""Activity operations (``activity:read`` / ``activity:write``, module ``activity_log``)."""

from __future__ import annotations

from core.activities import service
from core.activities.models import Activity
from core.activities.schemas import ActivityPublic, LogActivityIn, SearchActivitiesIn
from core.errors import NotFound, ValidationFailed
from core.operations import Context, Declare, Toolset
from core.pagination import Page

activities = Declare(
    scope="activity", toolset="activities", module="activity_log", writes_emit_events=True
)


async def search_activities(ctx: Context, a: SearchActivitiesIn) -> Page[Activity]:
    return await service.search_activities(ctx.session, ctx.workspace_id, a)


async def log_activity(ctx: Context, a: LogActivityIn) -> Activity:
    activity = await service.log_activity(
        ctx.session,
        ctx.workspace_id,
        {**a.model_dump(), "logged_by": ctx.principal.token_name, "channel": ctx.channel.value},
    )
    ctx.resource_id = activity.id
    return activity


OPERATIONS = [
    activities.list(
        "search_activities", "/activities", search_activities, SearchActivitiesIn,
        ActivityPublic,
        operation_id="listActivities",
        summary="Search activities",
        description=(
            "Read the activity timeline (notes, calls, emails, meetings, agent actions), newest "
            "first, by type, linked record (related_resource_type + related_resource_id) or "
            "free text `query`."
        ),
    ),
    activities.create(
        "log_activity", "/activities", log_activity, LogActivityIn, ActivityPublic,
        operation_id="createActivity",
        summary="Log an activity",
        description=(
            "Record a note, call, email, meeting or an action you took (type agent_action), "
            "optionally linked to a record (related_resource_type + related_resource_id, which "
            "must exist)."
        ),
        errors=(NotFound, ValidationFailed),
    ),
]  # fmt: skip

TOOLSETS = (Toolset("activities", "The timeline: notes, calls, emails, meetings."),)
