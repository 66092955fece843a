"""The workspace's lifecycle (archive, close, restore, purge), its data exports and its
billing view. Never commits (but the worker's export job and purge chore, which own
their transactions).

Status machine: ``active → archived → closed → purged`` (the purge: a retention period
after closing, by the worker), and ``archived → active`` (restore). Any other move is a
409 ``workspace_status_invalid``. Each move is one compare-and-set ``UPDATE … WHERE
status = <expected>``, so two concurrent moves cannot both succeed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core import exports, usage
from core.db import WorkspaceId, utcnow
from core.errors import Conflict, NotFound
from core.ids import new_id
from core.jobs.queue import ClaimedJob, finish
from core.tokens import repository as tokens
from core.workspaces.export_models import ExportStatus, WorkspaceExport
from core.workspaces.models import Workspace, WorkspaceStatus
from core.workspaces.plans import plan_for
from core.workspaces.schemas import ExportOut, MeterUsage, SubscriptionOut

if TYPE_CHECKING:
    from core.config import Settings
    from core.runtime import Runtime

log = logging.getLogger("patchbay.lifecycle")

MOVES: dict[str, tuple[WorkspaceStatus, WorkspaceStatus]] = {
    "archive": (WorkspaceStatus.active, WorkspaceStatus.archived),
    "close": (WorkspaceStatus.archived, WorkspaceStatus.closed),
    "restore": (WorkspaceStatus.archived, WorkspaceStatus.active),
}
"""Each lifecycle operation: the status it starts from and the one it leaves."""


async def move(session: AsyncSession, workspace_id: str, action: str, now: datetime) -> Workspace:
    """Apply one lifecycle move (``archive``, ``close``, ``restore``) or raise a 409
    ``workspace_status_invalid`` naming the current status."""
    source, target = MOVES[action]
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target is WorkspaceStatus.archived:
        values["archived_at"] = now
    elif target is WorkspaceStatus.closed:
        values["closed_at"] = now
    else:
        values["archived_at"] = None
    moved = await session.execute(
        sa.update(Workspace)
        .where(Workspace.id == workspace_id, Workspace.status == source)  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    workspace = await session.get(Workspace, workspace_id, populate_existing=True)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"Cannot {action} a workspace that is {workspace.status}: {action} applies to "
            f"{source.value} workspaces only.",
            code="workspace_status_invalid",
            details={"status": workspace.status, "required_status": source.value},
        )
    return workspace


def purge_due_at(settings: Settings, workspace: Workspace) -> datetime | None:
    """When a closed workspace's records are purged (None unless closed)."""
    if workspace.status != WorkspaceStatus.closed or workspace.closed_at is None:
        return None
    return workspace.closed_at + timedelta(days=settings.workspace_retention_days)


# ---------------------------------------------------------------- billing


async def subscription(
    session: AsyncSession, workspace_id: WorkspaceId, now: datetime
) -> SubscriptionOut:
    """The plan, the billing cycle containing ``now`` and each meter against the plan's
    limit where it has one."""
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    plan = plan_for(workspace.plan)
    start, end = usage.cycle_bounds(workspace.created_at, now)
    totals = await usage.totals(session, workspace_id, start.date(), end.date())
    today = await usage.on_day(session, workspace_id, "workflow_runs", now.date())
    meters = [
        MeterUsage(meter="workflow_runs", period="day", used=today,
                   limit=plan.daily_workflow_runs),
        MeterUsage(meter="workflow_runs", period="cycle", used=totals["workflow_runs"]),
        MeterUsage(meter="active_tokens", period="current",
                   used=await tokens.count_active(session, workspace_id, now),
                   limit=plan.active_tokens),
        MeterUsage(meter="crawl_pages", period="cycle", used=totals["crawl_pages"]),
        MeterUsage(meter="stored_bytes", period="current", used=totals["stored_bytes"],
                   limit=plan.asset_storage_bytes),
        MeterUsage(meter="deliveries", period="cycle", used=totals["deliveries"]),
        MeterUsage(meter="ai_tokens", period="cycle", used=totals["ai_tokens"]),
    ]  # fmt: skip
    return SubscriptionOut(
        plan=plan.name,
        status=workspace.status,
        cycle_start=start,
        cycle_end=end,
        meters=meters,
    )


# ---------------------------------------------------------------- exports


async def request_export(
    session: AsyncSession, workspace_id: WorkspaceId, now: datetime
) -> WorkspaceExport:
    """Queue an export of the whole workspace (the one already queued or running, if
    any: an export started a moment ago would hold the same records)."""
    pending = await session.scalar(
        sa.select(WorkspaceExport)
        .where(
            WorkspaceExport.workspace_id == workspace_id,
            WorkspaceExport.status.in_((ExportStatus.queued, ExportStatus.running)),  # type: ignore[attr-defined]
        )
        .order_by(WorkspaceExport.created_at.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    if pending is not None:
        return pending
    export = WorkspaceExport(
        id=new_id("exp"),
        workspace_id=workspace_id,
        status=ExportStatus.queued,
        created_at=now,
        run_after=now,
    )
    session.add(export)
    await session.flush()
    return export


async def get_export(session: AsyncSession, workspace_id: WorkspaceId, export_id: str) -> Any:
    export = await session.get(WorkspaceExport, (workspace_id, export_id))
    if export is None:
        raise NotFound("workspace_export", export_id)
    return export


def export_view(settings: Settings, export: WorkspaceExport, now: datetime) -> ExportOut:
    """The export's status, and a fresh signed download link once it succeeded."""
    view = ExportOut.model_validate(export)
    if export.status == ExportStatus.succeeded:
        view.download_url, view.download_expires_at = exports.download_link(
            settings, export.workspace_id, export.id, now
        )
    return view


async def run_export(runtime: Runtime, job: ClaimedJob) -> None:
    """The export queue's handler: write the archive, then record the outcome."""
    ws = job.workspace_id
    async with runtime.db.session(ws) as session:
        started = await finish_keep_lease(session, job, status=ExportStatus.running)
    if not started:
        return
    path = exports.archive_path(runtime.settings, ws, job.id)
    try:
        async with runtime.db.session(ws, read_only=True) as session:
            workspace = await session.get(Workspace, ws)
            if workspace is None:
                raise RuntimeError(f"workspace {ws} is gone")
            row = workspace.model_dump(mode="json")
            size, counts = await exports.write_archive(
                session, ws, path, row, runtime.platform
            )
    except Exception as exc:
        log.exception("export %s of %s failed", job.id, ws)
        async with runtime.db.session(ws) as session:
            await finish(session, job, status=ExportStatus.failed, finished_at=utcnow(),
                         error=f"{type(exc).__name__}: {exc}"[:2000])  # fmt: skip
        return
    async with runtime.db.session(ws) as session:
        recorded = await finish(session, job, status=ExportStatus.succeeded,
                                finished_at=utcnow(), file_name=path.name, size_bytes=size,
                                record_counts=counts)  # fmt: skip
        gone = not recorded and await session.get(WorkspaceExport, (ws, job.id)) is None
    if gone:  # purged meanwhile: leave no file behind (a takeover keeps the other's file)
        path.unlink(missing_ok=True)


async def finish_keep_lease(session: AsyncSession, job: ClaimedJob, **values: Any) -> bool:
    """Set ``values`` on a row this worker still holds (the lease stays); False if lost."""
    result = await session.execute(
        sa.update(WorkspaceExport)
        .where(
            WorkspaceExport.workspace_id == job.workspace_id,
            WorkspaceExport.id == job.id,
            WorkspaceExport.locked_by == job.worker_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- purge


async def purge_due(runtime: Runtime, now: datetime | None = None) -> int:
    """The worker chore: purge every closed workspace past its retention period; answers
    how many rows went."""
    now = now or utcnow()
    cutoff = now - timedelta(days=runtime.settings.workspace_retention_days)
    async with runtime.db.session(read_only=True) as session:
        due = list(
            await session.scalars(
                sa.select(Workspace.id).where(
                    Workspace.status == WorkspaceStatus.closed,  # type: ignore[arg-type]
                    Workspace.closed_at <= cutoff,  # type: ignore[operator, arg-type]
                )
            )
        )
    removed = 0
    for workspace_id in due:
        removed += await purge_workspace(runtime, workspace_id, now)
    return removed


async def purge_workspace(runtime: Runtime, workspace_id: str, now: datetime) -> int:
    """Delete every row of a closed workspace (every workspace-owned table, children
    first) and its export files; its ``workspaces`` row stays as the tombstone (status
    ``purged``). One transaction: a failure leaves it closed, to be retried."""
    removed = 0
    async with runtime.db.session(WorkspaceId(workspace_id)) as session:
        tombstoned = await session.execute(
            sa.update(Workspace)
            .where(Workspace.id == workspace_id, Workspace.status == WorkspaceStatus.closed)  # type: ignore[arg-type]
            .values(status=WorkspaceStatus.purged, purged_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not tombstoned.rowcount:  # type: ignore[attr-defined]
            return 0  # restored or purged meanwhile
        for table in reversed(exports.owned_tables(runtime.platform)):
            result = await session.execute(
                sa.delete(table).where(table.c.workspace_id == workspace_id)
            )
            removed += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    await _remove_folder(runtime.settings, workspace_id)
    log.info("purged workspace %s: %d row(s)", workspace_id, removed)
    return removed


async def _remove_folder(settings: Settings, workspace_id: str) -> None:
    import anyio

    folder = exports.workspace_folder(settings, workspace_id)
    await anyio.to_thread.run_sync(exports.remove_files, [folder])
