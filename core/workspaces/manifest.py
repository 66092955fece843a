"""The workspaces domain: the caller's own workspace (``get_me``)."""

from core.domain import Domain
from core.workspaces.models import Workspace
from core.workspaces.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(name="workspaces", operations=OPERATIONS, toolsets=TOOLSETS, tables=(Workspace,))
