"""Workflow queries, always by workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.workflows.models import Workflow, WorkflowDailyUsage, WorkflowRun


async def get_workflow(
    session: AsyncSession, workspace_id: WorkspaceId, workflow_id: str
) -> Workflow | None:
    stmt = select(Workflow).where(Workflow.workspace_id == workspace_id, Workflow.id == workflow_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def workflows_query(workspace_id: WorkspaceId, status: str | None) -> Select[Any]:
    stmt = select(Workflow).where(Workflow.workspace_id == workspace_id)
    if status is not None:
        stmt = stmt.where(Workflow.status == status)
    return stmt


async def get_run(
    session: AsyncSession, workspace_id: WorkspaceId, run_id: str
) -> WorkflowRun | None:
    stmt = select(WorkflowRun).where(
        WorkflowRun.workspace_id == workspace_id, WorkflowRun.id == run_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def runs_query(
    workspace_id: WorkspaceId, *, workflow_id: str | None = None, status: str | None = None
) -> Select[Any]:
    stmt = select(WorkflowRun).where(WorkflowRun.workspace_id == workspace_id)
    if workflow_id is not None:
        stmt = stmt.where(WorkflowRun.workflow_id == workflow_id)
    if status is not None:
        stmt = stmt.where(WorkflowRun.status == status)
    return stmt


async def increment_daily_usage(
    session: AsyncSession, workspace_id: WorkspaceId, day: str, cap: int | None
) -> bool:
    """Count one run for ``day``; False (nothing counted) if ``cap`` is already reached.

    Insert-if-missing, then a conditional increment: concurrent callers serialise on the
    counter row, and the ``count < cap`` condition is re-checked after each lock wait.
    """
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(WorkflowDailyUsage)
        .values(workspace_id=workspace_id, day=day, count=0)
        .on_conflict_do_nothing(index_elements=["workspace_id", "day"])
    )
    stmt = (
        update(WorkflowDailyUsage)
        .where(WorkflowDailyUsage.workspace_id == workspace_id, WorkflowDailyUsage.day == day)
        .values(count=WorkflowDailyUsage.count + 1)
        .execution_options(synchronize_session=False)
    )
    if cap is not None:
        stmt = stmt.where(WorkflowDailyUsage.count < cap)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
