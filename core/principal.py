"""``Principal``: who is calling, as the gate established it (kernel; every channel)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.db import WorkspaceId
from core.workspaces.plans import Plan


@dataclass(frozen=True)
class Principal:
    """Who is calling: an authenticated token (or the operator, on the command line) and
    its workspace."""

    workspace_id: WorkspaceId
    workspace_name: str
    workspace_status: str
    plan: Plan
    enabled_modules: frozenset[str]
    token_id: str
    token_name: str
    scopes: frozenset[str]
    abilities: frozenset[str]
    rate_limit_per_minute: int | None
    last_used_at: datetime | None
    created_at: datetime
    expires_at: datetime | None
    rest_api_enabled: bool = True
    """The workspace's REST kill switch (off: REST answers 404 ``rest_api_disabled``)."""
    member_id: str | None = None
    """The signed-in person of a dashboard call (no token: ``token_id`` is empty and the
    rate limit counts per member)."""
