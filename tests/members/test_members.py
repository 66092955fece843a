"""Members: password hashing, roles → scopes, invitations, password resets, sessions,
sign-in throttling, the last-owner rule, and the admin operations over REST and MCP."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from secrets import token_hex
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from core.db import WorkspaceId, utcnow
from core.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from core.events.models import DomainEvent
from core.members import repository, secrets, service
from core.members.models import Member, MemberInvitation, MemberSession, PasswordReset
from core.members.roles import ROLE_SCOPES, may_manage_agents, scopes_for
from core.members.schemas import InviteMemberIn
from core.operations import ToolFilter
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from core.scopes import ALL_SCOPES, READ_SCOPES
from mcp_server.server import ToolPolicy
from tests.conftest import REDIS_URL, need_service
from tests.factories import Tenant, owner_session, token_for
from tests.mcp_server.helpers import error_of, memory_client, tool_names

PASSWORD = "correct horse battery"
BASE = "https://patchbay.example"


async def add(runtime: Runtime, ws: WorkspaceId, email: str, role: str = "owner") -> str:
    async with runtime.db.session(ws) as session:
        joined = await service.add_member(session, ws, email=email, role=role, password=PASSWORD)
        return joined.member.id


async def invite(runtime: Runtime, ws: WorkspaceId, email: str, role: str = "member") -> Any:
    async with runtime.db.session(ws) as session:
        return await service.invite_member(
            session, ws, InviteMemberIn(email=email, role=role), base_url=BASE
        )


async def accept(runtime: Runtime, url: str, password: str = PASSWORD) -> service.Joined:
    token = url.rsplit("/", 1)[1]
    ws = service.invitation_workspace(token)
    assert ws is not None
    async with runtime.db.session(ws) as session:
        return await service.accept_invitation(
            session, token, password=password, limiter=runtime.limiter, ip="10.1.1.1"
        )


async def event_types(runtime: Runtime, ws: str) -> list[str]:
    async with owner_session(runtime) as session:
        stmt = select(DomainEvent.type).where(DomainEvent.workspace_id == ws)
        return [t for t in (await session.execute(stmt)).scalars() if t.startswith("member.")]


async def database_text(runtime: Runtime) -> str:
    parts: list[str] = []
    async with owner_session(runtime) as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(sa.select(table))).all():
                parts += [str(v) for v in row]
    return "\n".join(parts)


# ---------------------------------------------------------------- hashing, roles


def test_passwords_are_hashed_with_argon2id() -> None:
    stored = secrets.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert secrets.hash_password(PASSWORD) != stored  # salted
    assert secrets.verify_password(PASSWORD, stored)
    assert not secrets.verify_password("wrong password", stored)
    assert not secrets.verify_password(PASSWORD, None)
    assert not secrets.verify_password(PASSWORD, "not a hash")
    assert not secrets.needs_rehash(stored)


def test_roles_map_to_scopes() -> None:
    assert set(ROLE_SCOPES) == {"owner", "admin", "member", "viewer"}
    assert scopes_for("owner") == set(ALL_SCOPES)
    assert scopes_for("admin") == set(ALL_SCOPES) - {"workspace:owner"}  # no lifecycle
    assert "workspace:admin" in scopes_for("admin")
    member = scopes_for("member")
    assert "crm:write" in member and "workflows:read" in member
    assert not {"workspace:admin", "workflows:run", "workflows:write"} & member
    assert scopes_for("viewer") == set(READ_SCOPES)
    assert all(s.endswith(":read") for s in scopes_for("viewer"))
    assert [r for r in ROLE_SCOPES if may_manage_agents(r)] == ["owner", "admin"]
    assert scopes_for("nobody") == frozenset()
    for scopes in ROLE_SCOPES.values():
        assert scopes <= set(ALL_SCOPES)


# ---------------------------------------------------------------- invitations


async def test_an_invitation_is_single_use_and_stored_hashed(
    runtime: Runtime, tenant: Tenant
) -> None:
    ws = tenant.workspace_id
    invited = await invite(runtime, ws, "Ann@Example.com", "admin")
    assert invited.status == "invited" and invited.email == "ann@example.com"
    assert invited.invitation_url.startswith(f"{BASE}/invitations/{ws}.")
    assert invited.invitation_expires_at - utcnow() > timedelta(days=6, hours=23)
    assert invited.invitation_expires_at - utcnow() <= timedelta(days=7)
    token = invited.invitation_url.rsplit("/", 1)[1]
    text = await database_text(runtime)
    assert token not in text and token.split(".")[1] not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text

    joined = await accept(runtime, invited.invitation_url)
    assert joined.membership.status == "active" and joined.membership.role == "admin"
    async with runtime.db.session() as session:
        person = await repository.member_by_email(session, "ann@example.com")
        assert person is not None and secrets.verify_password(PASSWORD, person.password_hash)
    async with runtime.db.session(ws) as session:
        scopes = await service.effective_scopes(session, ws, joined.member.id)
        assert scopes == set(ALL_SCOPES) - {"workspace:owner"}
    with pytest.raises(Unauthenticated) as refused:
        await accept(runtime, invited.invitation_url)
    assert refused.value.code == "invitation_invalid"
    assert await event_types(runtime, ws) == ["member.invited", "member.joined"]


async def test_an_invitation_expires_after_seven_days(runtime: Runtime, tenant: Tenant) -> None:
    ws = tenant.workspace_id
    invited = await invite(runtime, ws, "bob@example.com")
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(MemberInvitation)
            .where(MemberInvitation.workspace_id == ws)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(Unauthenticated) as refused:
        await accept(runtime, invited.invitation_url)
    assert refused.value.code == "invitation_invalid"
    async with runtime.db.session(ws) as session:
        assert await service.effective_scopes(session, ws, invited.id) == frozenset()


async def test_a_new_invitation_replaces_the_link_and_links_are_bound_to_their_workspace(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await invite(runtime, tenant.workspace_id, "cat@example.com")
    second = await invite(runtime, tenant.workspace_id, "cat@example.com", "viewer")
    with pytest.raises(Unauthenticated):
        await accept(runtime, first.invitation_url)
    # the same secret presented for another workspace is unknown there
    token = second.invitation_url.rsplit("/", 1)[1]
    forged = f"{other_tenant.workspace_id}.{token.split('.', 1)[1]}"
    async with runtime.db.session(other_tenant.workspace_id) as session:
        with pytest.raises(Unauthenticated):
            await service.accept_invitation(
                session, forged, password=PASSWORD, limiter=runtime.limiter, ip="10.1.1.1"
            )
    assert service.invitation_workspace("garbage") is None
    joined = await accept(runtime, second.invitation_url)
    assert joined.membership.role == "viewer"
    with pytest.raises(Conflict) as exists:
        await invite(runtime, tenant.workspace_id, "cat@example.com")
    assert exists.value.code == "member_exists"


async def test_an_existing_person_joins_with_their_own_password(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    member_id = await add(runtime, tenant.workspace_id, "dan@example.com")
    invited = await invite(runtime, other_tenant.workspace_id, "dan@example.com")
    assert invited.id == member_id  # one person, two workspaces
    with pytest.raises(Unauthenticated) as wrong:
        await accept(runtime, invited.invitation_url, password="not the password")
    assert wrong.value.code == "signin_failed"
    joined = await accept(runtime, invited.invitation_url)
    assert joined.member.id == member_id
    async with runtime.db.session() as session:  # bound to no workspace: sign-in time
        found = await service.workspaces_of(session, member_id)
    assert {(w.workspace_id, w.role) for w in found} == {
        (tenant.workspace_id, "owner"),
        (other_tenant.workspace_id, "member"),
    }
    assert {w.workspace_name for w in found} == {"Acme", "Globex"}


async def test_a_new_password_must_be_long_enough(runtime: Runtime, tenant: Tenant) -> None:
    invited = await invite(runtime, tenant.workspace_id, "eve@example.com")
    with pytest.raises(ValidationFailed) as short:
        await accept(runtime, invited.invitation_url, password="short")
    assert short.value.code == "password_too_short"


# ---------------------------------------------------------------- password resets


async def reset_link(runtime: Runtime, email: str) -> service.IssuedLink:
    async with runtime.db.session() as session:
        link = await service.request_password_reset(session, email, base_url=BASE)
        assert link is not None
        return link


async def test_a_reset_link_is_single_use_lasts_an_hour_and_signs_out_everywhere(
    runtime: Runtime, tenant: Tenant
) -> None:
    member_id = await add(runtime, tenant.workspace_id, "fay@example.com")
    async with runtime.db.session() as session:
        assert await service.request_password_reset(session, "nobody@x.io", base_url=BASE) is None
        live = await service.create_session(session, member_id)
    link = await reset_link(runtime, "FAY@example.com")
    assert link.url == f"{BASE}/reset-password/{link.token}"
    assert timedelta(minutes=59) < link.expires_at - utcnow() <= timedelta(hours=1)
    assert link.token not in await database_text(runtime)
    other = await reset_link(runtime, "fay@example.com")
    async with runtime.db.session() as session:
        await service.reset_password(session, link.token, "a brand new password")
    async with runtime.db.session() as session:
        for token in (link.token, other.token):  # used; and voided by the first
            with pytest.raises(Unauthenticated) as used:
                await service.reset_password(session, token, "another new password")
            assert used.value.code == "reset_invalid"
        with pytest.raises(Unauthenticated):
            await service.verify_session(session, live.token)
        person = await service.sign_in(
            session, runtime.limiter, "fay@example.com", "a brand new password", ip="10.0.0.1"
        )
        assert person.id == member_id


async def test_a_reset_link_expires_after_an_hour(runtime: Runtime, tenant: Tenant) -> None:
    await add(runtime, tenant.workspace_id, "gus@example.com")
    link = await reset_link(runtime, "gus@example.com")
    async with runtime.db.session() as session:
        await session.execute(
            sa.update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with runtime.db.session() as session:
        with pytest.raises(Unauthenticated) as expired:
            await service.reset_password(session, link.token, "a brand new password")
        assert expired.value.code == "reset_invalid"


# ---------------------------------------------------------------- sessions


async def age(runtime: Runtime, session_id: str, **values: Any) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            sa.update(MemberSession).where(MemberSession.id == session_id).values(**values)
        )


async def test_sessions_verify_touch_and_revoke(runtime: Runtime, tenant: Tenant) -> None:
    member_id = await add(runtime, tenant.workspace_id, "hal@example.com")
    async with runtime.db.session() as session:
        issued = await service.create_session(session, member_id)
    assert issued.token not in await database_text(runtime)
    assert issued.session.expires_at - issued.session.created_at == timedelta(days=30)
    earlier = utcnow() - timedelta(hours=2)
    await age(runtime, issued.session.id, last_seen_at=earlier)
    async with runtime.db.session() as session:
        row = await service.verify_session(session, issued.token)
        assert row.member_id == member_id and row.last_seen_at > earlier  # touched
        await service.revoke_session(session, issued.token)
    async with runtime.db.session() as session:
        with pytest.raises(Unauthenticated) as revoked:
            await service.verify_session(session, issued.token)
        assert revoked.value.code == "session_invalid"
        with pytest.raises(Unauthenticated):
            await service.verify_session(session, None)
        with pytest.raises(Unauthenticated):
            await service.verify_session(session, "made-up")


async def test_sessions_expire_after_12_hours_idle_and_30_days_in_all(
    runtime: Runtime, tenant: Tenant
) -> None:
    member_id = await add(runtime, tenant.workspace_id, "ida@example.com")
    async with runtime.db.session() as session:
        idle = await service.create_session(session, member_id)
        old = await service.create_session(session, member_id)
        recent = await service.create_session(session, member_id)
    now = utcnow()
    await age(runtime, idle.session.id, last_seen_at=now - timedelta(hours=12, seconds=1))
    await age(runtime, recent.session.id, last_seen_at=now - timedelta(hours=11, minutes=59))
    # used every hour for 30 days: still expires at its absolute limit
    await age(
        runtime, old.session.id, created_at=now - timedelta(days=30),
        expires_at=now - timedelta(seconds=1), last_seen_at=now - timedelta(minutes=5),
    )  # fmt: skip
    async with runtime.db.session() as session:
        for expired in (idle, old):
            with pytest.raises(Unauthenticated):
                await service.verify_session(session, expired.token)
        assert (await service.verify_session(session, recent.token)).id == recent.session.id
        await service.revoke_all_sessions(session, member_id)
    async with runtime.db.session() as session:
        with pytest.raises(Unauthenticated):
            await service.verify_session(session, recent.token)


# ---------------------------------------------------------------- sign-in throttling


async def sign_in(runtime: Runtime, email: str, password: str, ip: str) -> Member:
    async with runtime.db.session() as session:
        return await service.sign_in(session, runtime.limiter, email, password, ip=ip)


async def test_the_sixth_failure_on_an_account_is_refused(runtime: Runtime, tenant: Tenant) -> None:
    await add(runtime, tenant.workspace_id, "jo@example.com")
    assert (
        await sign_in(runtime, "jo@example.com", PASSWORD, "10.0.0.1")
    ).email == "jo@example.com"
    for attempt in range(5):
        with pytest.raises(Unauthenticated) as failed:
            await sign_in(runtime, "jo@example.com", "wrong", f"10.0.1.{attempt}")
        assert failed.value.code == "signin_failed"
    # the sixth attempt is refused whatever the password and the address
    with pytest.raises(RateLimited) as throttled:
        await sign_in(runtime, "JO@example.com", PASSWORD, "10.9.9.9")
    assert throttled.value.code == "signin_throttled"
    assert throttled.value.status == 429
    assert 850 <= throttled.value.retry_after_seconds <= 901


async def test_the_sixth_failure_from_an_address_is_refused(
    runtime: Runtime, tenant: Tenant
) -> None:
    await add(runtime, tenant.workspace_id, "kim@example.com")
    for n in range(5):  # five accounts tried from one address (unknown ones count too)
        with pytest.raises(Unauthenticated):
            await sign_in(runtime, f"guess{n}@example.com", "wrong", "10.6.6.6")
    with pytest.raises(RateLimited) as throttled:
        await sign_in(runtime, "kim@example.com", PASSWORD, "10.6.6.6")
    assert throttled.value.code == "signin_throttled"
    assert (
        await sign_in(runtime, "kim@example.com", PASSWORD, "10.7.7.7")
    ).email == "kim@example.com"


async def test_a_success_clears_the_account_count(runtime: Runtime, tenant: Tenant) -> None:
    await add(runtime, tenant.workspace_id, "lee@example.com")
    for round_ in range(2):
        for n in range(4):
            with pytest.raises(Unauthenticated):
                await sign_in(runtime, "lee@example.com", "wrong", f"10.{round_}.0.{n}")
        await sign_in(runtime, "lee@example.com", PASSWORD, f"10.{round_}.1.1")


# ---------------------------------------------------------------- the last owner


async def test_the_last_owner_cannot_be_demoted_or_removed(
    runtime: Runtime, tenant: Tenant
) -> None:
    ws = tenant.workspace_id
    owner = await add(runtime, ws, "max@example.com", "owner")
    for attempt in ("demote", "remove"):
        async with runtime.db.session(ws) as session:
            with pytest.raises(Conflict) as refused:
                if attempt == "demote":
                    await service.change_role(session, ws, owner, "admin")
                else:
                    await service.remove_member(session, ws, owner)
            assert refused.value.code == "last_owner"
    # a pending owner does not count: an invitation is not an owner yet
    pending = await invite(runtime, ws, "ned@example.com", "owner")
    async with runtime.db.session(ws) as session:
        with pytest.raises(Conflict):
            await service.change_role(session, ws, owner, "viewer")
    await accept(runtime, pending.invitation_url)
    async with runtime.db.session(ws) as session:
        demoted = await service.change_role(session, ws, owner, "viewer")
        assert demoted["role"] == "viewer"
        assert demoted["scopes"] == sorted(READ_SCOPES)
    async with runtime.db.session(ws) as session:
        with pytest.raises(Conflict):
            await service.remove_member(session, ws, pending.id)
        await service.remove_member(session, ws, owner)
    assert (await event_types(runtime, ws))[-2:] == ["member.role_changed", "member.removed"]


# ---------------------------------------------------------------- over REST and MCP


async def test_admins_manage_members_over_rest(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    owner = await add(runtime, tenant.workspace_id, "olga@example.com", "owner")
    h = tenant.headers
    r = await client.post("/api/v1/members", json={"email": "pat@example.com", "role": "viewer"},
                          headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    invited = r.json()["data"]
    assert invited["status"] == "invited" and invited["invitation_url"].startswith("http")
    assert "password_hash" not in invited
    r = await client.get("/api/v1/members", headers=h)
    rows = {m["email"]: m for m in r.json()["data"]}
    assert set(rows) == {"olga@example.com", "pat@example.com"}
    assert "invitation_url" not in rows["pat@example.com"]
    assert rows["olga@example.com"]["status"] == "active"
    r = await client.get("/api/v1/members", params={"status": "invited", "limit": 1}, headers=h)
    assert [m["email"] for m in r.json()["data"]] == ["pat@example.com"]
    r = await client.patch(f"/api/v1/members/{invited['id']}", json={"role": "member"}, headers=h)
    assert r.status_code == 200 and r.json()["data"]["role"] == "member"
    r = await client.patch(f"/api/v1/members/{owner}", json={"role": "admin"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    r = await client.delete(f"/api/v1/members/{invited['id']}", headers=h)
    assert r.status_code == 200, r.text
    with pytest.raises(Unauthenticated):  # the cancelled invitation's link no longer works
        await accept(runtime, invited["invitation_url"])
    r = await client.delete(f"/api/v1/members/{invited['id']}", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"
    admin_only = {
        "Authorization": f"Bearer {await token_for(runtime, tenant, ['workspace:admin'])}"
    }
    r = await client.post("/api/v1/members", json={"email": "x@example.com", "role": "viewer"},
                          headers=admin_only)  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_escalation"
    r = await client.patch(f"/api/v1/members/{owner}", json={"role": "member"}, headers=admin_only)
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_escalation"
    reader = await token_for(runtime, tenant, ["crm:read", "crm:write"])
    r = await client.get("/api/v1/members", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_missing"
    assert await event_types(runtime, tenant.workspace_id) == [
        "member.joined", "member.invited", "member.role_changed", "member.removed",
    ]  # fmt: skip


async def test_members_over_mcp_in_their_own_toolset(runtime: Runtime, tenant: Tenant) -> None:
    members_tools = {"list_members", "invite_member", "change_member_role", "remove_member"}
    async with memory_client(runtime, tenant.token, policy=ToolPolicy(ToolFilter(), None)) as c:
        assert members_tools <= await tool_names(c)
        result = await c.call_tool("invite_member", {"email": "quinn@example.com"})
        assert not result.is_error, result.content
        data = result.structured_content["data"]  # type: ignore[index]
        assert data["role"] == "member" and "/invitations/" in data["invitation_url"]
        listed = await c.call_tool("list_members", {})
        assert [m["email"] for m in listed.structured_content["data"]] == ["quinn@example.com"]  # type: ignore[index]
        bad = await c.call_tool("change_member_role", {"member_id": data["id"], "role": "boss"})
        assert error_of(bad)["code"] == "validation_error"
    default = ToolPolicy.from_settings(runtime.settings, runtime.registry)
    async with memory_client(runtime, tenant.token, policy=default) as c:
        assert not members_tools & await tool_names(c)  # not in the default selection


@pytest.mark.redis
async def test_throttling_is_shared_through_redis(runtime: Runtime, tenant: Tenant) -> None:
    """Two processes (two limiters over one Redis) count the same failures."""
    url = need_service(REDIS_URL, "redis")
    prefix = f"pbtest-{token_hex(6)}"
    limiters = [RateLimiter(url, key_prefix=prefix) for _ in range(2)]
    await add(runtime, tenant.workspace_id, "ray@example.com")
    try:
        for n in range(5):
            async with runtime.db.session() as session:
                with pytest.raises(Unauthenticated):
                    await service.sign_in(
                        session, limiters[n % 2], "ray@example.com", "wrong", ip=f"10.8.0.{n}"
                    )
        for limiter in limiters:
            async with runtime.db.session() as session:
                with pytest.raises(RateLimited):
                    await service.sign_in(
                        session, limiter, "ray@example.com", PASSWORD, ip="10.8.1.1"
                    )
    finally:
        await limiters[0].reset()


async def test_two_owners_demoted_at_once_leave_one(runtime: Runtime, tenant: Tenant) -> None:
    """Concurrent demotions of the only two owners: one wins, the other answers last_owner
    (the members lock serialises the check and the change)."""
    ws = tenant.workspace_id
    owners = [await add(runtime, ws, f"own{n}@example.com", "owner") for n in range(2)]
    outcomes: list[str] = []

    async def demote(member_id: str) -> None:
        try:
            async with runtime.db.session(ws) as session:
                await service.change_role(session, ws, member_id, "admin")
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for member_id in owners:
                tg.start_soon(demote, member_id)
    assert sorted(outcomes) == ["last_owner", "ok"]
    async with runtime.db.session(ws) as session:
        assert await repository.count_owners(session, ws) == 1
