"""Member management for admins (scope ``workspace:admin``, toolset ``members``).

``workspace:admin`` is the catalogue's scope for "tokens, intake keys, settings, members"
(SPEC §2): inviting a person and minting a token are the same power (handing out
scopes), so they share one scope, and the same rule: a caller never grants a role whose
scopes it does not hold (``scope_escalation``), as ``create_token`` never grants them.
The toolset is not in the default MCP selection (an agent rarely manages people; it
keeps the default tools/list small).
"""

from __future__ import annotations

from typing import Any

from core.config import Settings
from core.errors import Conflict, Forbidden, NotFound
from core.members import service
from core.members.roles import scopes_for
from core.members.schemas import (
    ChangeRoleIn,
    InviteMemberIn,
    ListMembersIn,
    MemberIdIn,
    MemberInvited,
    MemberPublic,
)
from core.operations import Context, Declare, Toolset
from core.pagination import Page

members = Declare(
    scope="workspace",
    toolset="members",
    read_scope="workspace:admin",
    write_scope="workspace:admin",
    writes_emit_events=True,
    errors=(NotFound, Conflict, Forbidden),
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def base_url(settings: Settings) -> str:
    """Where links (invitations, resets) point: ``PATCHBAY_PUBLIC_BASE_URL`` or the local
    server."""
    return settings.public_base_url or DEFAULT_BASE_URL


def _no_escalation(ctx: Context, role: str) -> None:
    """Like a token, a caller cannot hand out more than it holds: a role's scopes must be
    among the caller's (a ``workspace:admin``-only token cannot make an owner)."""
    beyond = scopes_for(role) - ctx.principal.scopes
    if beyond:
        raise Forbidden(
            f"The role {role} grants scopes this caller does not hold: "
            f"{', '.join(sorted(beyond))}.",
            code="scope_escalation",
        )


async def list_members(ctx: Context, a: ListMembersIn) -> Page[Any]:
    return await service.list_members(ctx.session, ctx.workspace_id, a)


async def invite_member(ctx: Context, a: InviteMemberIn) -> MemberInvited:
    _no_escalation(ctx, a.role)
    invited = await service.invite_member(
        ctx.session, ctx.workspace_id, a, base_url=base_url(ctx.settings)
    )
    ctx.resource_id = invited.id
    return invited


async def change_member_role(ctx: Context, a: ChangeRoleIn) -> dict[str, Any]:
    ctx.resource_id = a.member_id
    _no_escalation(ctx, a.role)
    return await service.change_role(ctx.session, ctx.workspace_id, a.member_id, a.role)


async def remove_member(ctx: Context, a: MemberIdIn) -> dict[str, Any]:
    ctx.resource_id = a.member_id
    return await service.remove_member(ctx.session, ctx.workspace_id, a.member_id)


OPERATIONS = [
    members.list(
        "list_members", "/members", list_members, ListMembersIn, MemberPublic,
        summary="List members",
        description=(
            "The people of this workspace with their role (owner, admin, member, viewer), "
            "the scopes it grants and whether they joined (active) or are invited."
        ),
    ),
    members.create(
        "invite_member", "/members", invite_member, InviteMemberIn, MemberInvited,
        summary="Invite a member",
        description=(
            "Invite a person by email with a role. Answers the single-use invitation link "
            "(valid 7 days) once: send it to them. Inviting someone still pending replaces "
            "their link; an active member answers member_exists."
        ),
        extra={"secret_fields": ("invitation_url",)},
    ),
    members.update(
        "change_member_role", "/members/{member_id}", change_member_role, ChangeRoleIn,
        MemberPublic,
        summary="Change a member's role",
        description=(
            "Set a member's role. The workspace's last owner cannot be demoted "
            "(last_owner): make someone else owner first."
        ),
    ),
    members.delete(
        "remove_member", "/members/{member_id}", remove_member, MemberIdIn, MemberPublic,
        summary="Remove a member",
        description=(
            "Take a person out of this workspace (a pending invitation is cancelled); their "
            "account and other workspaces stay. The last owner cannot be removed (last_owner)."
        ),
    ),
]  # fmt: skip

TOOLSETS = (
    Toolset("members", "People of the workspace: roles and invitations (workspace:admin)."),
)
