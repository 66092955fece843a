"""The workflow-run queue for ``core.jobs`` workers."""

from __future__ import annotations

from core.jobs import Queue
from core.workflows.engine import handle
from core.workflows.models import READY_STATUSES, WorkflowRun

QUEUE = Queue(
    name="workflow_runs",
    model=WorkflowRun,
    ready_statuses=READY_STATUSES,
    handler=handle,
)
