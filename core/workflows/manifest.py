"""The workflows domain: recipes, runs (a job queue) and the daily cap (SPEC §5)."""

from core.domain import Domain, Sample
from core.workflows.jobs import QUEUE
from core.workflows.models import Workflow, WorkflowDailyUsage, WorkflowRun
from core.workflows.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="workflows",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Workflow, WorkflowRun, WorkflowDailyUsage),
    queues=(QUEUE,),
    event_types={
        "workflow_run.succeeded": "A workflow run finished every step.",
        "workflow_run.failed": "A workflow run stopped on an error.",
    },
    samples={
        "create_workflow": Sample(
            lambda: {
                "name": "Welcome",
                "recipe": {"steps": [{"type": "log", "message": "Hello {{input.name}}"}]},
            }
        ),
        "update_workflow": Sample(lambda: {"description": "changed"}),
        "trigger_workflow": Sample(lambda: {"input": {"name": "Jane"}}),
    },
    records={"workflow": "create_workflow", "run": "trigger_workflow"},
)
