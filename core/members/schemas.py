"""Member inputs and public shapes: the invitation link appears in ``MemberInvited`` only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.fields import Email, OneLine, one_line
from core.members.roles import Role
from core.pagination import ListParams

Status = Literal["invited", "active"]


class ListMembersIn(ListParams):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = Field(default=None, description="Only members with this role.")
    status: Status | None = Field(
        default=None, description="invited (not yet accepted) or active; omit for both."
    )


class InviteMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email = Field(description="The person's email address.")
    role: Role = Field(default="member", description="owner, admin, member (default) or viewer.")
    name: OneLine | None = one_line("The person's name, if known.", 200)


class MemberIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(max_length=40, description="Id of the member (mem_...).")


class ChangeRoleIn(MemberIdIn):
    role: Role = Field(description="The new role: owner, admin, member or viewer.")


class MemberPublic(BaseModel):
    """A person as a member of this workspace: never a password or a token."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The member's id (mem_...), the same in every workspace.")
    email: str
    name: str | None = None
    role: str
    status: str = Field(description="invited (link not yet used) or active.")
    scopes: list[str] = Field(description="The scopes the role grants in this workspace.")
    created_at: datetime
    updated_at: datetime


class MemberInvited(MemberPublic):
    """An invitation: the only time ``invitation_url`` is shown."""

    invitation_url: str | None = Field(
        default=None,
        description="The single-use link to send the person; shown once, omitted on replays.",
    )
    invitation_expires_at: datetime
