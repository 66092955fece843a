"""The workspaces domain: the tenants, their plans, and the caller's own view (``get_me``)."""

from core.domain import Domain, Sample
from core.workspaces.models import Workspace
from core.workspaces.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="workspaces",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Workspace,),
    samples={"update_workspace_settings": Sample(lambda: {"rest_api_enabled": True})},
)
