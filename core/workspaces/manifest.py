"""The workspaces domain: the tenants, their plans, and the caller's own view (``get_me``)."""

from core.domain import Domain, Sample
from core.usage import UsageDaily
from core.workspaces.export_models import WorkspaceExport
from core.workspaces.jobs import EXPORT_QUEUE, purge_closed_workspaces
from core.workspaces.models import Workspace
from core.workspaces.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="workspaces",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Workspace, WorkspaceExport, UsageDaily),
    queues=(EXPORT_QUEUE,),
    chores=(purge_closed_workspaces,),
    samples={"update_workspace_settings": Sample(lambda: {"rest_api_enabled": True})},
    records={"export": "create_workspace_export"},
)
