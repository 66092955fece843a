"""The tasks domain: to-dos linked to any record."""

from core.domain import Domain, Sample
from core.tasks.models import Task
from core.tasks.operations import OPERATIONS, TOOLSETS
from core.tasks.service import erase_linked

DOMAIN = Domain(
    name="tasks",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Task,),
    related_types={"task": Task},
    event_types={
        "task.created": "A task was created.",
        "task.updated": "A task changed.",
        "task.completed": "A task was completed.",
    },
    erasers=(erase_linked,),
    samples={
        "create_task": Sample(lambda: {"title": "Follow up with Jane"}),
        "update_task": Sample(lambda: {"status": "done", "completion_note": "ok"}),
    },
    records={"task": "create_task"},
)
