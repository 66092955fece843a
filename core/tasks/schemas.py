"""Task inputs and public shape (descriptions double as MCP tool documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.fields import OneLine, RecordId, UtcDatetime, one_line, record_id
from core.pagination import ListParams
from core.related import RelatedType

TaskStatus = Literal["open", "in_progress", "done", "cancelled"]
Priority = Literal["low", "normal", "high", "urgent"]

RELATED_TYPE = "Linked record's type."
RELATED_ID = "Linked record's id."


class ListTasksIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = Field(default=None, description="Only tasks with this status.")
    assignee: OneLine | None = one_line("Only tasks assigned to this user or agent.")
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(default=None, max_length=40, description=RELATED_ID)


class TaskFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=10_000, description="Details.")
    priority: Priority | None = Field(default=None, description="Default normal.")
    assignee: OneLine | None = one_line("Who does it.")
    due_at: UtcDatetime | None = Field(default=None, description="When; with a UTC offset.")
    related_type: RelatedType | None = Field(default=None, description=RELATED_TYPE)
    related_id: str | None = Field(default=None, max_length=40, description=RELATED_ID)


class CreateTaskIn(TaskFields):
    title: OneLine = one_line("What needs doing.", 300, required=True)
    status: TaskStatus = Field(default="open", description="Initial status.")


class UpdateTaskIn(TaskFields):
    task_id: RecordId = record_id("task", "task", required=True)
    title: OneLine | None = Field(
        default=None, min_length=1, max_length=300, description="New title."
    )
    status: TaskStatus | None = Field(default=None, description="done sets completed_at.")
    completion_note: str | None = Field(default=None, max_length=5_000, description="How it went.")


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
    assignee: str | None = None
    due_at: datetime | None = None
    related_type: str | None = None
    related_id: str | None = None
    completion_note: str | None = None
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
