"""The workflow-run queue for ``core.jobs`` workers."""

from __future__ import annotations

from core.jobs import Queue
from core.workflows.engine import BATCH_SIZE, handle_batch
from core.workflows.models import READY_STATUSES, WorkflowRun

QUEUE = Queue(
    name="workflow_runs",
    model=WorkflowRun,
    ready_statuses=READY_STATUSES,
    batch_handler=handle_batch,
    batch_size=BATCH_SIZE,
)
