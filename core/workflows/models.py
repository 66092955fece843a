"""Workflows, their runs (a job table) and the per-day run counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import JSONType, UTCDateTime, WorkspaceOwned, tenant_fk, tenant_pk, workspace_fk
from core.jobs import JobFields
from core.workflows.schemas import RunStatus, WorkflowStatus

READY_STATUSES: tuple[str, ...] = (RunStatus.queued, RunStatus.running)
FINISHED_STATUSES: frozenset[str] = frozenset({RunStatus.succeeded, RunStatus.failed})


class Workflow(SQLModel, WorkspaceOwned, table=True):
    __tablename__ = "workflows"
    __table_args__ = (tenant_pk("workflows"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: str = Field(default=WorkflowStatus.active, max_length=20)
    recipe: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WorkflowRun(JobFields, WorkspaceOwned, table=True):
    """One run. ``recipe`` is a snapshot taken at trigger time; ``next_step`` is the index
    of the first step not yet recorded (execution resumes there after a crash or delay).

    Indexes are kept few (each is written on every non-HOT update of a run):
    ``run_after`` and ``workspace_id`` carry no single-column index of their own (the
    partial due index and the primary key ``(workspace_id, id)`` cover them); on
    PostgreSQL the table has fillfactor 70 (migration 0005) so lease updates can be HOT."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        tenant_pk("workflow_runs"),
        tenant_fk("workflow_runs", "workflow_id", "workflows", ondelete="CASCADE"),
        sa.Index("ix_workflow_runs_workspace_workflow_id", "workspace_id", "workflow_id", "id"),
        sa.Index(
            "ix_workflow_runs_due",
            "run_after",
            "id",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = workspace_fk()
    workflow_id: str = Field(max_length=40)
    run_after: datetime = Field(sa_type=UTCDateTime)  # indexed by ix_workflow_runs_due
    status: str = Field(default=RunStatus.queued, max_length=20)
    input: dict[str, Any] = Field(sa_type=JSONType)
    recipe: dict[str, Any] = Field(sa_type=JSONType)
    channel: str = Field(max_length=10)
    token_id: str | None = Field(default=None, max_length=40)
    token_name: str | None = Field(default=None, max_length=200)
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    next_step: int = 0
    steps_total: int = 0
    steps_succeeded: int = 0
    steps_failed: int = 0
    error_code: str | None = Field(default=None, max_length=80)
    error_message: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WorkflowDailyUsage(SQLModel, WorkspaceOwned, table=True):
    """Runs triggered per workspace per UTC day (the daily cap's counter)."""

    __tablename__ = "workflow_daily_usage"
    __table_args__ = (tenant_pk("workflow_daily_usage", "day"),)

    workspace_id: str = workspace_fk()
    day: str = Field(primary_key=True, max_length=10, description="YYYY-MM-DD (UTC)")
    count: int = 0
