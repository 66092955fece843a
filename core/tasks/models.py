"""The tasks table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, WorkspaceOwned, tenant_pk, workspace_fk


class Task(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        tenant_pk("tasks"),
        sa.Index("ix_tasks_workspace_id_status_id", "workspace_id", "status", "id"),
        sa.Index(
            "ix_tasks_workspace_id_related", "workspace_id", "related_type", "related_id", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    status: str = Field(max_length=20)
    priority: str = Field(max_length=10)
    assignee: str | None = Field(default=None, max_length=200)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    related_type: str | None = Field(default=None, max_length=30)
    related_id: str | None = Field(default=None, max_length=40)
    completion_note: str | None = Field(default=None, max_length=5_000)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
