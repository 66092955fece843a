"""Task inputs and public shape (descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from core.deprecation import OldValues, Renamed
from core.fields import OneLine, RecordId, UtcDatetime, one_line, record_id
from core.pagination import ListParams
from core.related import RelatedType

TaskStatus = Literal["open", "in_progress", "completed", "canceled"]
"""The reference API's statuses (open, completed, canceled) plus in_progress."""
Priority = Literal["low", "normal", "high", "urgent"]
OLD_STATUSES = OldValues(done="completed", cancelled="canceled")
"""The statuses' names before they followed the reference API (deprecated aliases)."""

RELATED_TYPE = "Linked record's type."
RELATED_ID = "Linked record's id."

COLUMNS = {
    "related_resource_type": "related_type",
    "related_resource_id": "related_id",
    "assignee_id": "assignee",
    "completed_note": "completion_note",
}
"""Argument name → the tasks column that holds it (the columns kept their first names)."""

RelatedTypeArg = Annotated[RelatedType | None, Renamed("related_type")]
RelatedIdArg = Annotated[str | None, Renamed("related_id")]
AssigneeArg = Annotated[OneLine | None, Renamed("assignee")]


class ListTasksIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    status: Annotated[TaskStatus | None, OLD_STATUSES] = Field(
        default=None, description="Only tasks with this status."
    )
    assignee_id: AssigneeArg = one_line("Only tasks assigned to this user or agent.")
    related_resource_type: RelatedTypeArg = Field(default=None, description=RELATED_TYPE)
    related_resource_id: RelatedIdArg = Field(default=None, max_length=40, description=RELATED_ID)


class TaskFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=10_000, description="Details.")
    priority: Priority | None = Field(default=None, description="Default normal.")
    assignee_id: AssigneeArg = one_line("Who does it.")
    due_at: UtcDatetime | None = Field(default=None, description="When; with a UTC offset.")
    related_resource_type: RelatedTypeArg = Field(default=None, description=RELATED_TYPE)
    related_resource_id: RelatedIdArg = Field(default=None, max_length=40, description=RELATED_ID)


class CreateTaskIn(TaskFields):
    title: OneLine = one_line("What needs doing.", 300, required=True)
    status: Annotated[TaskStatus, OLD_STATUSES] = Field(
        default="open", description="Initial status."
    )


class UpdateTaskIn(TaskFields):
    task_id: RecordId = record_id("task", "task", required=True)
    title: OneLine | None = Field(
        default=None, min_length=1, max_length=300, description="New title."
    )
    status: Annotated[TaskStatus | None, OLD_STATUSES] = Field(
        default=None, description="completed stamps completed_at."
    )
    completed_note: Annotated[str | None, Renamed("completion_note")] = Field(
        default=None, max_length=5_000, description="How it went."
    )


class TaskIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: RecordId = record_id("task", "task", required=True)


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    description: str | None = None
    status: str
    priority: str
    assignee_id: str | None = Field(
        default=None, validation_alias=AliasChoices("assignee_id", "assignee")
    )
    due_at: datetime | None = None
    related_resource_type: str | None = Field(
        default=None, validation_alias=AliasChoices("related_resource_type", "related_type")
    )
    related_resource_id: str | None = Field(
        default=None, validation_alias=AliasChoices("related_resource_id", "related_id")
    )
    completed_note: str | None = Field(
        default=None, validation_alias=AliasChoices("completed_note", "completion_note")
    )
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
