"""Workflow inputs and public shapes (the descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.fields import OneLine
from core.pagination import PagedListParams


class WorkflowStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


MAX_WAIT_SECONDS = 25
"""Longest ``get_workflow_run`` long poll."""

RECIPE_DESCRIPTION = (
    '{"steps": [...], "continue_on_error": false}, up to 50 steps: {"type": "log", '
    '"message": s}, {"type": "delay", "seconds": 1-30}, {"type": "fire_webhook_event", '
    '"event": k, "payload": {}}. Strings may use {{input.key}}.'
)


def _workflow_id() -> Any:
    return Field(max_length=40, description="Id of the workflow (wf_...).")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _List(PagedListParams):
    """Workflow lists take page/per_page as well (a page-numbered API lists them)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- inputs


class ListWorkflowsIn(_List):
    status: WorkflowStatus | None = Field(default=None, description="Only active or inactive.")


class CreateWorkflowIn(_In):
    name: OneLine = Field(min_length=1, max_length=200, description="Workflow name.")
    description: str | None = Field(
        default=None, max_length=2000, description="What the workflow is for."
    )
    recipe: dict[str, Any] = Field(description=RECIPE_DESCRIPTION)
    status: WorkflowStatus = Field(
        default=WorkflowStatus.active, description="inactive workflows cannot run."
    )


class WorkflowIdIn(_In):
    workflow_id: str = _workflow_id()


class UpdateWorkflowIn(_In):
    workflow_id: str = _workflow_id()
    name: OneLine | None = Field(
        default=None, min_length=1, max_length=200, description="New name."
    )
    description: str | None = Field(default=None, max_length=2000, description="New description.")
    recipe: dict[str, Any] | None = Field(default=None, description=RECIPE_DESCRIPTION)
    status: WorkflowStatus | None = Field(default=None, description="inactive stops new runs.")


class TriggerWorkflowIn(_In):
    workflow_id: str = _workflow_id()
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Run input (max 64 KB); steps read it as {{input.key}}.",
    )


class ListRunsIn(_List):
    workflow_id: str | None = Field(
        default=None, max_length=40, description="Only runs of this workflow (wf_...)."
    )
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class ListRunsOfWorkflowIn(_List):
    workflow_id: str = _workflow_id()
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class GetRunIn(_In):
    run_id: str = Field(max_length=40, description="Id of the run (run_...).")
    wait_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Seconds to wait for the run to finish (0: answer at once).",
    )


# ---------------------------------------------------------------- public shapes


class WorkflowPublic(BaseModel):
    """A workflow with its full recipe."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None = None
    status: WorkflowStatus
    recipe: dict[str, Any] = Field(description="{continue_on_error, steps: [...]}")
    created_at: datetime
    updated_at: datetime


class WorkflowSummary(BaseModel):
    """A workflow as listed (no recipe; see get_workflow)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None = None
    status: WorkflowStatus
    step_count: int
    created_at: datetime
    updated_at: datetime


class StepError(BaseModel):
    code: str
    message: str


class StepOutput(BaseModel):
    """What one step did."""

    index: int
    type: str
    status: str = Field(
        description="succeeded, failed, or waiting: a delay step whose pause is not over yet "
        "(resume_at says until when)."
    )
    output: dict[str, Any] | None = None
    error: StepError | None = None
    started_at: datetime
    finished_at: datetime | None = Field(
        default=None, description="When the step finished (absent while it is waiting)."
    )
    resume_at: datetime | None = Field(
        default=None, description="For a waiting delay step: when the run goes on."
    )


class WorkflowRunSummary(BaseModel):
    """A run as listed (without step output)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    workflow_id: str
    status: RunStatus
    input: dict[str, Any]
    channel: str
    token_id: str | None = None
    token_name: str | None = Field(default=None, description="Name of the triggering token.")
    steps_total: int
    steps_succeeded: int
    steps_failed: int
    error_code: str | None = None
    error_message: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class WorkflowRunPublic(WorkflowRunSummary):
    """A run with its step-by-step output."""

    steps: list[StepOutput]
