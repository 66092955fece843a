"""The members domain: people, their roles per workspace, invitations, resets, sessions."""

from core.domain import Domain, Sample
from core.ids import new_id
from core.members.models import (
    Member,
    MemberInvitation,
    MemberSession,
    Membership,
    PasswordReset,
)
from core.members.operations import OPERATIONS, TOOLSETS

DOMAIN = Domain(
    name="members",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(Member, Membership, MemberInvitation, MemberSession, PasswordReset),
    event_types={
        "member.invited": "A person was invited to the workspace.",
        "member.joined": "A person accepted an invitation (or was added) and is a member.",
        "member.role_changed": "A member's role changed.",
        "member.removed": "A member was removed from the workspace.",
    },
    samples={
        "invite_member": Sample(
            lambda: {"email": f"{new_id('x')[2:]}@example.com", "role": "member"}
        ),
        "change_member_role": Sample(lambda: {"role": "admin"}),
    },
    records={"member": "invite_member"},
)
