"""Member rules: invitations (single use, 7 days), roles and the last-owner rule, sign-in
with throttling, password resets (single use, 1 hour) and server-side sessions (12 h idle,
30 days absolute). Never commits.

Workspace-side functions take a session bound to the workspace (memberships and
invitations are under row-level security); person-side ones (sign-in, resets, sessions)
touch global tables only. An invitation token names its workspace
(``<workspace id>.<secret>``) so that accepting it binds the session first; only the
secret's SHA-256 is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId, serialize, utcnow
from core.errors import Conflict, NotFound, RateLimited, Unauthenticated, ValidationFailed
from core.events.service import emit
from core.ids import looks_like_id, new_id
from core.members import repository, secrets
from core.members.models import (
    Member,
    MemberInvitation,
    MemberSession,
    Membership,
    PasswordReset,
)
from core.members.roles import ROLES, scopes_for
from core.members.schemas import InviteMemberIn, ListMembersIn, MemberInvited
from core.pagination import Page
from core.ratelimit import RateLimiter

INVITATION_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=1)
SESSION_IDLE = timedelta(hours=12)
SESSION_ABSOLUTE = timedelta(days=30)
SESSION_TOUCH_RESOLUTION = timedelta(minutes=1)
SIGNIN_FAILURES = 5
SIGNIN_WINDOW_SECONDS = 15 * 60

MEMBER_EVENTS = ("member.invited", "member.joined", "member.role_changed", "member.removed")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _public(membership: Membership, person: Member) -> dict[str, Any]:
    return {
        "id": membership.member_id,
        "email": person.email,
        "name": person.name,
        "role": membership.role,
        "status": membership.status,
        "scopes": sorted(scopes_for(membership.role)),
        "created_at": membership.created_at,
        "updated_at": membership.updated_at,
    }


def _event(membership: Membership, person: Member, **more: Any) -> dict[str, Any]:
    return {
        "id": membership.member_id,
        "email": person.email,
        "role": membership.role,
        "status": membership.status,
        **more,
    }


def check_password(password: str) -> None:
    if len(password) < secrets.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"A password needs at least {secrets.MIN_PASSWORD_LENGTH} characters.",
            code="password_too_short",
        )
    if len(password) > 1000:
        raise ValidationFailed("A password has at most 1000 characters.")


# ---------------------------------------------------------------- workspace side


async def list_members(session: AsyncSession, ws: WorkspaceId, a: ListMembersIn) -> Page[Any]:
    page = await repository.list_members(
        session, ws, role=a.role, status=a.status, limit=a.limit, cursor=a.cursor
    )
    for item in page.items:
        item["scopes"] = sorted(scopes_for(item["role"]))
    return page


async def _person(session: AsyncSession, email: str, name: str | None, now: datetime) -> Member:
    """The person with ``email``, created (without a password) if new."""
    person = await repository.member_by_email(session, email)
    if person is None:
        values = {"id": new_id("mem"), "email": normalise_email(email), "name": name,
                  "password_hash": None, "created_at": now, "updated_at": now}  # fmt: skip
        person = await repository.add_person(session, values)
    return person


async def invite_member(
    session: AsyncSession, ws: WorkspaceId, a: InviteMemberIn, *, base_url: str
) -> MemberInvited:
    """Invite ``a.email`` with ``a.role``: a pending membership and a single-use link valid
    7 days (a new invitation to someone still pending replaces their previous link)."""
    now = utcnow()
    await serialize(session, f"members:{ws}")
    person = await _person(session, a.email, a.name, now)
    membership = await repository.membership(session, ws, person.id)
    if membership is not None and membership.status == "active":
        raise Conflict(f"{person.email} is already a member of this workspace.",
                       code="member_exists")  # fmt: skip
    if membership is None:
        membership = Membership(
            workspace_id=ws,
            member_id=person.id,
            role=a.role,
            status="invited",
            created_at=now,
            updated_at=now,
        )
        session.add(membership)
    else:
        membership.role = a.role
        membership.updated_at = now
    for old in await repository.open_invitations(session, ws, person.id):
        old.revoked_at = now
    secret = secrets.new_token()
    token = f"{ws}.{secret}"
    invitation = MemberInvitation(
        workspace_id=ws,
        id=new_id("inv"),
        member_id=person.id,
        token_hash=secrets.hash_token(token),
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    await emit(session, ws, "member.invited", _event(membership, person))
    return MemberInvited.model_validate(
        {
            **_public(membership, person),
            "invitation_url": f"{base_url.rstrip('/')}/invitations/{token}",
            "invitation_expires_at": invitation.expires_at,
        }
    )


def invitation_workspace(token: str) -> WorkspaceId | None:
    """The workspace an invitation token names (bind the session to it before accepting)."""
    ws, dot, secret = token.partition(".")
    if not dot or not secret or not looks_like_id(ws):
        return None
    return WorkspaceId(ws)


@dataclass(frozen=True)
class Joined:
    member: Member
    membership: Membership


async def accept_invitation(
    session: AsyncSession,
    token: str,
    *,
    password: str,
    limiter: RateLimiter,
    ip: str,
    name: str | None = None,
) -> Joined:
    """Use an invitation link (once, within 7 days). A new person sets their password; one
    who already has an account proves it with theirs, throttled like a sign-in.
    ``session`` must be bound to ``invitation_workspace(token)``."""
    invalid = Unauthenticated(
        "The invitation link is invalid, used, revoked or expired.", code="invitation_invalid"
    )
    ws = invitation_workspace(token)
    if ws is None:
        raise invalid
    now = utcnow()
    invitation = await repository.invitation_by_hash(session, ws, secrets.hash_token(token))
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise invalid
    person = await repository.member(session, invitation.member_id)
    membership = await repository.membership(session, ws, invitation.member_id)
    if person is None or membership is None:
        raise invalid
    if person.password_hash is None:
        check_password(password)
        person.password_hash = secrets.hash_password(password)
        if name:
            person.name = name
        person.updated_at = now
    else:
        await sign_in(session, limiter, person.email, password, ip=ip)
    invitation.used_at = now
    membership.status = "active"
    membership.updated_at = now
    await session.flush()
    await emit(session, ws, "member.joined", _event(membership, person))
    return Joined(person, membership)


async def _existing(
    session: AsyncSession, ws: WorkspaceId, member_id: str
) -> tuple[Membership, Member]:
    membership = await repository.membership(session, ws, member_id)
    person = await repository.member(session, member_id) if membership else None
    if membership is None or person is None:
        raise NotFound("member", member_id)
    return membership, person


async def _keep_an_owner(session: AsyncSession, ws: WorkspaceId, membership: Membership) -> None:
    """Refuse to take away the workspace's last active owner."""
    if (
        membership.role == "owner"
        and membership.status == "active"
        and await repository.count_owners(session, ws) <= 1
    ):
        raise Conflict(
            "This is the workspace's last owner: make someone else owner first.",
            code="last_owner",
        )


async def change_role(
    session: AsyncSession, ws: WorkspaceId, member_id: str, role: str
) -> dict[str, Any]:
    """Give the member ``role`` (the last owner cannot be demoted)."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.")
    await serialize(session, f"members:{ws}")
    membership, person = await _existing(session, ws, member_id)
    previous = membership.role
    if role != previous:
        if role != "owner":
            await _keep_an_owner(session, ws, membership)
        membership.role = role
        membership.updated_at = utcnow()
        await session.flush()
        await emit(
            session, ws, "member.role_changed", _event(membership, person, previous_role=previous)
        )
    return _public(membership, person)


async def remove_member(session: AsyncSession, ws: WorkspaceId, member_id: str) -> dict[str, Any]:
    """Take the member out of the workspace (a pending one: cancel the invitation). The
    person's account stays; the last owner cannot be removed."""
    await serialize(session, f"members:{ws}")
    membership, person = await _existing(session, ws, member_id)
    await _keep_an_owner(session, ws, membership)
    now = utcnow()
    for invitation in await repository.open_invitations(session, ws, member_id):
        invitation.revoked_at = now
    public = _public(membership, person)
    await session.delete(membership)
    await session.flush()
    await emit(session, ws, "member.removed", _event(membership, person))
    return public


async def add_member(
    session: AsyncSession,
    ws: WorkspaceId,
    *,
    email: str,
    role: str,
    password: str | None = None,
) -> Joined:
    """Make ``email`` an active member with ``role`` at once (bootstrap: the demo owner,
    operators). A new person gets ``password``; an existing one keeps theirs."""
    now = utcnow()
    await serialize(session, f"members:{ws}")
    person = await _person(session, email, None, now)
    if person.password_hash is None and password is not None:
        check_password(password)
        person.password_hash = secrets.hash_password(password)
    membership = await repository.membership(session, ws, person.id)
    if membership is None:
        membership = Membership(
            workspace_id=ws, member_id=person.id, role=role, status="active",
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(membership)
    else:
        membership.role, membership.status, membership.updated_at = role, "active", now
    await session.flush()
    await emit(session, ws, "member.joined", _event(membership, person))
    return Joined(person, membership)


@dataclass(frozen=True)
class WorkspaceRole:
    workspace_id: WorkspaceId
    workspace_name: str
    role: str


async def workspaces_of(session: AsyncSession, member_id: str) -> list[WorkspaceRole]:
    """The workspaces the member is active in, with their role (after sign-in, before a
    workspace is chosen: the workspace switcher)."""
    rows = await repository.workspaces_of(session, member_id)
    return [WorkspaceRole(WorkspaceId(r.workspace_id), r.workspace_name, r.role) for r in rows]


async def person(session: AsyncSession, member_id: str) -> Member | None:
    """The person (email, name) behind a member id (the dashboard's header)."""
    return await repository.member(session, member_id)


async def effective_scopes(
    session: AsyncSession, ws: WorkspaceId, member_id: str
) -> frozenset[str]:
    """The scopes the member holds in ``ws`` (none unless an active member)."""
    membership = await repository.membership(session, ws, member_id)
    if membership is None or membership.status != "active":
        return frozenset()
    return scopes_for(membership.role)


# ---------------------------------------------------------------- person side


async def sign_in(
    session: AsyncSession, limiter: RateLimiter, email: str, password: str, *, ip: str
) -> Member:
    """The member with these credentials, or ``Unauthenticated`` (one message for an
    unknown email and a wrong password). After 5 failures in 15 minutes for the account
    or for the IP address, every attempt is refused with ``signin_throttled`` (429) until
    the window ends, right password or not."""
    email = normalise_email(email)
    keys = (("signin-account", email), ("signin-ip", ip))
    for namespace, key in keys:
        wait = await limiter.exhausted(namespace, key, SIGNIN_FAILURES, SIGNIN_WINDOW_SECONDS)
        if wait is not None:
            raise RateLimited(
                wait,
                "Too many failed sign-ins; wait 15 minutes or reset the password.",
                code="signin_throttled",
            )
    person = await repository.member_by_email(session, email)
    if not secrets.verify_password(password, person.password_hash if person else None):
        for namespace, key in keys:
            await limiter.count(namespace, key, SIGNIN_FAILURES, SIGNIN_WINDOW_SECONDS)
        raise Unauthenticated("The email or password is not right.", code="signin_failed")
    assert person is not None and person.password_hash is not None
    await limiter.forget("signin-account", email, SIGNIN_FAILURES, SIGNIN_WINDOW_SECONDS)
    if secrets.needs_rehash(person.password_hash):
        person.password_hash = secrets.hash_password(password)
        await session.flush()
    return person


@dataclass(frozen=True)
class IssuedLink:
    token: str
    url: str
    expires_at: datetime


async def request_password_reset(
    session: AsyncSession, email: str, *, base_url: str
) -> IssuedLink | None:
    """A single-use reset link valid 1 hour for the person with ``email`` (None if there
    is no such person: the caller says the same thing either way)."""
    person = await repository.member_by_email(session, email)
    if person is None:
        return None
    now = utcnow()
    token = secrets.new_token()
    reset = PasswordReset(
        id=new_id("rst"),
        member_id=person.id,
        token_hash=secrets.hash_token(token),
        created_at=now,
        expires_at=now + RESET_TTL,
    )
    session.add(reset)
    await session.flush()
    return IssuedLink(token, f"{base_url.rstrip('/')}/reset-password/{token}", reset.expires_at)


async def reset_password(session: AsyncSession, token: str, new_password: str) -> Member:
    """Set a new password with a reset link (once, within 1 hour); every other pending
    link is voided and every session of the person revoked."""
    now = utcnow()
    reset = await repository.reset_by_hash(session, secrets.hash_token(token))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise Unauthenticated("The reset link is invalid, used or expired.", code="reset_invalid")
    check_password(new_password)
    person = await repository.member(session, reset.member_id)
    if person is None:
        raise Unauthenticated("The reset link is invalid, used or expired.", code="reset_invalid")
    person.password_hash = secrets.hash_password(new_password)
    person.updated_at = now
    await repository.use_resets(session, person.id, now)
    await repository.revoke_sessions(session, person.id, now)
    await session.flush()
    return person


@dataclass(frozen=True)
class IssuedSession:
    token: str
    session: MemberSession


async def create_session(session: AsyncSession, member_id: str) -> IssuedSession:
    """A new signed-in session for the member; the token (the cookie's value) is in the
    result and nowhere else."""
    now = utcnow()
    token = secrets.new_token()
    row = MemberSession(
        id=new_id("mss"),
        member_id=member_id,
        session_hash=secrets.hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_ABSOLUTE,
    )
    session.add(row)
    await session.flush()
    return IssuedSession(token, row)


def _alive(row: MemberSession | None, now: datetime) -> bool:
    return (
        row is not None
        and row.revoked_at is None
        and now < row.expires_at
        and now - row.last_seen_at < SESSION_IDLE
    )


async def verify_session(
    session: AsyncSession, token: str | None, *, touch: bool = True
) -> MemberSession:
    """The live session of ``token`` (not revoked, idle under 12 h, younger than 30 days),
    touched (``last_seen_at``) unless ``touch`` is False; else ``Unauthenticated``."""
    now = utcnow()
    row = await repository.session_by_hash(session, secrets.hash_token(token)) if token else None
    if not _alive(row, now):
        raise Unauthenticated("The session has expired or was signed out.", code="session_invalid")
    assert row is not None
    if touch:
        await touch_session(session, row, now)
    return row


async def touch_session(
    session: AsyncSession, row: MemberSession, now: datetime | None = None
) -> None:
    """Record activity (at most once a minute, to keep page loads cheap)."""
    now = now or utcnow()
    if now - row.last_seen_at >= SESSION_TOUCH_RESOLUTION:
        row.last_seen_at = now
        await session.flush()


async def revoke_session(session: AsyncSession, token: str) -> None:
    """Sign out: the session answers ``session_invalid`` from now on (idempotent)."""
    row = await repository.session_by_hash(session, secrets.hash_token(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()


async def revoke_all_sessions(session: AsyncSession, member_id: str) -> None:
    """Sign the member out everywhere."""
    await repository.revoke_sessions(session, member_id, utcnow())
