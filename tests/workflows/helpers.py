"""Helpers for the workflow tests: creating workflows, running workers, waiting for runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from sqlalchemy import select

from core.db import WorkspaceId
from core.events.models import DomainEvent
from core.gateway import Outcome, call_operation
from core.jobs import Worker
from core.operations import Channel
from core.runtime import Runtime
from core.workflows import service
from core.workflows.jobs import QUEUE
from core.workflows.models import FINISHED_STATUSES, WorkflowRun
from core.workspaces.plans import plan_for

LOG_ONLY = {"steps": [{"type": "log", "message": "hello {{input.name}}"}]}
FIRED = "campaign.fired"
"""A custom event type the tests register and fire (built-in types are reserved)."""


async def register_event_type(
    runtime: Runtime, workspace_id: WorkspaceId, key: str = FIRED
) -> None:
    """Register custom event type ``key`` in the workspace."""
    from core.webhooks import service as webhooks

    async with runtime.db.session(workspace_id) as session:
        await webhooks.register_event_type(
            session, workspace_id, key=key, category=None, description=None
        )


async def op(
    runtime: Runtime,
    op_name: str,
    token: str,
    channel: Channel = Channel.mcp,
    /,
    **arguments: Any,
) -> Outcome:
    """Call operation ``op_name`` through the gateway (MCP channel unless told)."""
    operation = runtime.registry.get(op_name)
    assert operation is not None, op_name
    return await call_operation(
        runtime, operation, credentials=token, channel=channel, arguments=arguments
    )


async def create_workflow(
    runtime: Runtime, workspace_id: WorkspaceId, recipe: dict[str, Any], **kw: Any
) -> str:
    async with runtime.db.session(workspace_id) as session:
        wf = await service.create_workflow(
            session, workspace_id, name=kw.pop("name", "wf"), recipe=recipe, **kw
        )
        return wf.id


async def trigger(
    runtime: Runtime,
    workspace_id: WorkspaceId,
    workflow_id: str,
    run_input: dict[str, Any] | None = None,
    *,
    count: int = 1,
    plan: str = "custom",
) -> list[str]:
    """Queue ``count`` runs through the service (one transaction)."""
    async with runtime.db.session(workspace_id) as session:
        ids = []
        for _ in range(count):
            run = await service.trigger_run(
                session, workspace_id, plan_for(plan), workflow_id, run_input or {}, channel="cli"
            )
            ids.append(run.id)
        return ids


@asynccontextmanager
async def running_worker(
    runtime: Runtime, *, concurrency: int = 1, worker_id: str | None = None
) -> AsyncIterator[Worker]:
    worker = Worker(runtime, [QUEUE], concurrency=concurrency, worker_id=worker_id)
    async with anyio.create_task_group() as tg:
        await tg.start(worker.run)
        try:
            yield worker
        finally:
            worker.stop()
            with anyio.move_on_after(10):
                await worker.stopped.wait()
            tg.cancel_scope.cancel()


async def get_run(runtime: Runtime, workspace_id: WorkspaceId, run_id: str) -> WorkflowRun:
    async with runtime.db.session(workspace_id, read_only=True) as session:
        return await service.get_run(session, workspace_id, run_id)


async def wait_finished(
    runtime: Runtime, workspace_id: WorkspaceId, run_ids: list[str], timeout: float = 30
) -> list[WorkflowRun]:
    """Poll (bounded) until every run is succeeded or failed."""
    with anyio.fail_after(timeout):
        while True:
            async with runtime.db.session(workspace_id, read_only=True) as session:
                rows = list(
                    (
                        await session.execute(
                            select(WorkflowRun).where(WorkflowRun.id.in_(run_ids))
                        )
                    ).scalars()
                )
            if len(rows) == len(run_ids) and all(r.status in FINISHED_STATUSES for r in rows):
                order = {rid: i for i, rid in enumerate(run_ids)}
                return sorted(rows, key=lambda r: order[r.id])
            await anyio.sleep(0.05)


async def run_events(runtime: Runtime, workspace_id: WorkspaceId) -> dict[tuple[str, str], int]:
    """Count of workflow_run.* events per (run id, type)."""
    async with runtime.db.session(workspace_id, read_only=True) as session:
        rows = await session.execute(
            select(DomainEvent.type, DomainEvent.data).where(
                DomainEvent.workspace_id == workspace_id,
                DomainEvent.type.like("workflow_run.%"),
            )
        )
        counts: dict[tuple[str, str], int] = {}
        for type_, data in rows:
            key = (data["run_id"], type_)
            counts[key] = counts.get(key, 0) + 1
        return counts
