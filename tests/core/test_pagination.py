"""Keyset pagination with opaque cursors (core.pagination) and over REST."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy import select

from core.audit import service as audit
from core.audit.models import AuditEntry
from core.db import WorkspaceId
from core.errors import InvalidCursor
from core.ids import new_id
from core.pagination import cursor_scope, decode_cursor, encode_cursor, paginate
from core.runtime import Runtime
from tests.factories import Tenant, owner_session


async def seed_audit(runtime: Runtime, workspace_id: WorkspaceId, n: int) -> list[str]:
    async with owner_session(runtime) as session:
        for i in range(n):
            await audit.record(
                session,
                workspace_id=workspace_id,
                token_id=None,
                token_name=None,
                channel="cli",
                operation=f"seed_{i}",
                status=200,
                outcome="ok",
                request_id=f"req_seed{i}",
            )
    async with owner_session(runtime) as session:
        stmt = select(AuditEntry.id).where(AuditEntry.workspace_id == workspace_id)
        return list((await session.execute(stmt)).scalars())


def test_cursor_round_trip() -> None:
    for _ in range(20):
        last = new_id("aud")
        cursor = encode_cursor(last)
        assert decode_cursor(cursor) == last
        assert last not in cursor  # opaque
        assert "=" not in cursor and "/" not in cursor and "+" not in cursor


def raw_cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "%%%",
        "é",
        "eyJhZnRlciI6",
        raw_cursor({"after": "nope"}),
        raw_cursor({"after": None}),
        raw_cursor({"after": ["aud_01m84stzeqeagxvypb650pn6dc"]}),
        raw_cursor({"x": "aud_01m84stzeqeagxvypb650pn6dc"}),
        raw_cursor([1, 2]),
        raw_cursor(7),
        raw_cursor({"after": "aud_01m84stzeqeagxvypb650pn6dc'; drop table x; --"}),
    ],
)
def test_garbage_cursors_raise(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as info:
        decode_cursor(cursor)
    assert info.value.code == "invalid_cursor" and info.value.status == 400


async def test_paging_sixty_rows_by_seven(runtime: Runtime, tenant: Tenant) -> None:
    ids = await seed_audit(runtime, tenant.workspace_id, 60)
    assert len(ids) == 60
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        async with runtime.db.session(tenant.workspace_id) as session:
            stmt = select(AuditEntry).where(AuditEntry.workspace_id == tenant.workspace_id)
            page = await paginate(session, stmt, AuditEntry.id, limit=7, cursor=cursor)
        pages += 1
        assert len(page.items) == (7 if pages <= 8 else 4)
        seen.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 9
    assert seen == sorted(ids, reverse=True)  # newest first, each exactly once
    assert len(set(seen)) == 60


async def test_exact_multiple_has_no_empty_last_page(runtime: Runtime, tenant: Tenant) -> None:
    await seed_audit(runtime, tenant.workspace_id, 14)
    async with runtime.db.session(tenant.workspace_id) as session:
        stmt = select(AuditEntry)
        first = await paginate(session, stmt, AuditEntry.id, limit=7, cursor=None)
        second = await paginate(session, stmt, AuditEntry.id, limit=7, cursor=first.next_cursor)
    assert first.next_cursor is not None
    assert len(second.items) == 7 and second.next_cursor is None


async def test_rows_added_between_pages_are_not_repeated(runtime: Runtime, tenant: Tenant) -> None:
    ids = await seed_audit(runtime, tenant.workspace_id, 10)
    async with runtime.db.session(tenant.workspace_id) as session:
        first = await paginate(session, select(AuditEntry), AuditEntry.id, limit=4, cursor=None)
    await seed_audit(runtime, tenant.workspace_id, 5)  # newer than every cursor
    seen = [i.id for i in first.items]
    cursor = first.next_cursor
    while cursor:
        async with runtime.db.session(tenant.workspace_id) as session:
            page = await paginate(
                session, select(AuditEntry), AuditEntry.id, limit=4, cursor=cursor
            )
        seen.extend(i.id for i in page.items)
        cursor = page.next_cursor
    assert seen == sorted(ids, reverse=True)


async def test_paging_over_rest(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    ids = await seed_audit(runtime, tenant.workspace_id, 60)
    await seed_audit(runtime, other_tenant.workspace_id, 5)
    seen: list[str] = []
    params: dict[str, str] = {"limit": "7"}
    for _ in range(20):
        r = await client.get("/api/v1/audit", params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "next_cursor" in body
        seen.extend(e["id"] for e in body["data"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    # Each listing call is itself audited, but only after it read its page, and newer
    # ids never appear behind a cursor: exactly the seeded rows, newest first.
    assert seen == sorted(ids, reverse=True)


async def test_default_limit_is_25(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    await seed_audit(runtime, tenant.workspace_id, 30)
    body = (await client.get("/api/v1/audit", headers=tenant.headers)).json()
    assert len(body["data"]) == 25 and body["next_cursor"]


async def _contacts_cursor(client: httpx.AsyncClient, tenant: Tenant) -> str:
    for i in range(3):
        r = await client.post("/api/v1/contacts", json={"name": f"P{i}"}, headers=tenant.headers)
        assert r.status_code == 201, r.text
    page = await client.get("/api/v1/contacts", params={"limit": 1}, headers=tenant.headers)
    cursor = page.json()["next_cursor"]
    assert cursor
    return cursor


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/audit", "/api/v1/workflow-runs"])
async def test_a_cursor_is_refused_on_another_list(
    client: httpx.AsyncClient, tenant: Tenant, path: str
) -> None:
    cursor = await _contacts_cursor(client, tenant)
    ok = await client.get("/api/v1/contacts", params={"cursor": cursor}, headers=tenant.headers)
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2
    r = await client.get(path, params={"cursor": cursor}, headers=tenant.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_cursor"


async def test_a_cursor_is_refused_in_another_workspace(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    from tests.mcp_server.helpers import error_code, memory_client

    cursor = await _contacts_cursor(client, other_tenant)
    await _contacts_cursor(client, tenant)
    r = await client.get("/api/v1/contacts", params={"cursor": cursor}, headers=tenant.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", r.text
    async with memory_client(runtime, tenant.token) as mcp:
        result = await mcp.call_tool("search_contacts", {"cursor": cursor})
    assert error_code(result) == "invalid_cursor"


def test_a_cursor_is_bound_to_its_sort() -> None:
    from core.crm.models import Contact
    from core.tasks.models import Task

    last = new_id("con")
    scope = cursor_scope("search_contacts|wrk_1", Contact.id)
    assert decode_cursor(encode_cursor(last, scope), scope) == last
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(last, scope), cursor_scope("search_contacts|wrk_1", Task.id))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(last, scope), scope.replace(" desc", " asc"))
