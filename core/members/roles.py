"""Roles → scopes (``core/scopes.py``): what a member may do in a workspace.

- owner: every scope (``workspace:admin`` and ``workspace:owner`` included); the last
  owner cannot leave.
- admin: every scope but ``workspace:owner``: tokens, members and audit
  (``workspace:admin``) and "Manage agents" of reference 002 (``workflows:run`` for
  Run now, ``workflows:write``).
- member: read and write of every resource area and ``workflows:read`` (no Run now,
  no recipe edits, no ``workspace:admin``).
- viewer: every ``:read`` scope.

Owner and admin differ in the workspace's lifecycle (``workspace:owner``: archive, close,
restore) and in the last-owner rule.
"""

from __future__ import annotations

from typing import Literal

from core.scopes import ALL_SCOPES, READ_SCOPES, RESOURCE_SCOPES

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[str, ...] = ("owner", "admin", "member", "viewer")

OWNER_SCOPE = "workspace:owner"
"""The workspace's lifecycle (archive, close, restore): the owner role's alone."""

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": frozenset(ALL_SCOPES),
    "admin": frozenset(ALL_SCOPES) - {OWNER_SCOPE},
    "member": frozenset((*RESOURCE_SCOPES, "workflows:read")),
    "viewer": frozenset(READ_SCOPES),
}


def scopes_for(role: str) -> frozenset[str]:
    """The scopes a member with ``role`` holds (empty for an unknown role)."""
    return ROLE_SCOPES.get(role, frozenset())


def may_manage_agents(role: str) -> bool:
    """The "Manage agents" permission of reference 002 (Run now, workflow edits)."""
    return {"workflows:run", "workflows:write"} <= scopes_for(role)
