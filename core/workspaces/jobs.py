"""The export queue and the purge chore of the workspace lifecycle, for ``core.jobs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.jobs.queue import Queue
from core.workspaces.export_models import ExportStatus, WorkspaceExport
from core.workspaces.lifecycle import purge_due, run_export

if TYPE_CHECKING:
    from core.runtime import Runtime

EXPORT_QUEUE = Queue(
    name="workspace_exports",
    model=WorkspaceExport,
    ready_statuses=(ExportStatus.queued, ExportStatus.running),
    handler=run_export,
)
"""``running`` is ready too: an export whose worker died (lease run out) starts over."""


async def purge_closed_workspaces(runtime: Runtime) -> int:
    """Chore: purge closed workspaces past their retention period."""
    return await purge_due(runtime)
