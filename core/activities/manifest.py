"""The activities domain: the timeline of notes, calls, emails, meetings, agent actions."""

from core.activities.models import Activity
from core.activities.operations import OPERATIONS, TOOLSETS
from core.activities.service import erase_linked
from core.domain import Domain, Sample

DOMAIN = Domain(
    name="activities",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Activity,),
    event_types={
        "activity.logged": "An activity (call, email, meeting, note) was logged.",
    },
    event_category="activity",
    erasers=(erase_linked,),
    samples={
        "log_activity": Sample(lambda: {"type": "note", "summary": "Jane asked for pricing"}),
    },
    records={"activity": "log_activity"},
)
