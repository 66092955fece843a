"""004 (REST conventions): error envelope, cursor pagination with ``after``, rate-limit
headers, the resource map's endpoints that exist (contacts, webhooks with DELETE, audit,
workspace), token rotation, deprecation headers and TLS-only serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.config import Settings
from core.runtime import Runtime
from core.webhooks.models import WebhookDelivery
from tests.factories import Tenant, make_token, owner_session
from tests.reference.conftest import API, post


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str) -> httpx.Response:
    return await client.get(API + path, headers=tenant.headers)


async def test_cursor_pagination_with_after(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """``?limit=50&after=…`` as documented; ``pagination.next_cursor`` passed verbatim."""
    for n in range(3):
        await post(client, tenant, "/contacts", {"name": f"C{n}"})
    first = (await get(client, tenant, "/contacts?limit=2")).json()
    assert first["pagination"]["has_more"] is True
    cursor = first["pagination"]["next_cursor"]
    second = await get(client, tenant, f"/contacts?limit=50&after={cursor}")
    assert second.status_code == 200, second.text
    assert len(second.json()["data"]) == 1
    assert second.json()["pagination"] == {"has_more": False, "next_cursor": None}
    same = await get(client, tenant, f"/contacts?limit=2&after={cursor}&cursor={cursor}")
    assert same.status_code == 200
    differ = await get(client, tenant, f"/contacts?after={cursor}&cursor=x")
    assert differ.status_code == 400
    default = (await get(client, tenant, "/contacts")).json()
    assert len(default["data"]) == 3  # default limit 25
    assert (await get(client, tenant, "/contacts?limit=101")).status_code == 400


async def test_error_envelope_and_rate_limit_headers(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await get(client, tenant, "/contacts/con_01jd00000000000000000000zz")
    assert r.status_code == 404
    error = r.json()["error"]
    assert set(error) >= {"code", "message", "request_id"}
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in r.headers


async def test_contacts_get_patch_delete(client: httpx.AsyncClient, tenant: Tenant) -> None:
    contact = await post(client, tenant, "/contacts", {"name": "Jane", "email": "j@acme.com"})
    path = f"{API}/contacts/{contact['id']}"
    assert (await client.get(path, headers=tenant.headers)).status_code == 200
    r = await client.patch(path, json={"title": "CTO"}, headers=tenant.headers)
    assert r.status_code == 200 and r.json()["data"]["title"] == "CTO"
    r = await client.delete(path, headers=tenant.headers)
    assert r.status_code == 200 and "email" not in r.json()["data"]


async def test_webhooks_get_post_delete(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    hook = await post(
        client, tenant, "/webhooks",
        {"name": "Ops", "url": "https://example.com/hook", "event_types": ["contact.created"]},
    )  # fmt: skip
    await post(client, tenant, "/contacts", {"name": "Queued for the hook"})
    await post(client, tenant, f"/webhooks/{hook['id']}/test", {})
    foreign = await client.delete(f"{API}/webhooks/{hook['id']}", headers=other_tenant.headers)
    assert foreign.status_code == 404
    r = await client.delete(f"{API}/webhooks/{hook['id']}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {
        "id": hook["id"], "name": "Ops", "url": "https://example.com/hook",
        "deleted": True, "canceled_deliveries": 2,
    }  # fmt: skip
    async with owner_session(runtime) as session:  # every workspace's, as the owner
        left = (await session.execute(select(WebhookDelivery))).scalars().all()
    assert left == []  # nothing queued is sent any more
    assert (await get(client, tenant, f"/webhooks/{hook['id']}")).status_code == 404
    again = await client.delete(f"{API}/webhooks/{hook['id']}", headers=tenant.headers)
    assert again.status_code == 404
    audit = (await get(client, tenant, "/audit?operation=delete_webhook_endpoint")).json()
    assert [e["status"] for e in audit["data"]] == [404, 200]  # newest first; Globex audits its own
    ok = [e for e in audit["data"] if e["outcome"] == "ok"]
    assert [e["resource_id"] for e in ok] == [hook["id"]]


async def test_audit_lookup_by_time_path_and_request_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """000: "the time of the failing request and the endpoint URL" find it."""
    missing = await get(client, tenant, "/contacts/con_01jd00000000000000000000zz")
    request_id = missing.json()["error"]["request_id"]
    await get(client, tenant, "/contacts")
    by_request = (await get(client, tenant, f"/audit?request_id={request_id}")).json()["data"]
    assert [(e["status"], e["path"]) for e in by_request] == [
        (404, "/api/v1/contacts/con_01jd00000000000000000000zz")
    ]
    entry = by_request[0]
    url = "https://patchbay.example/api/v1/contacts/con_01jd00000000000000000000zz"
    by_path = (await get(client, tenant, f"/audit?path={url}")).json()["data"]
    assert [e["request_id"] for e in by_path] == [request_id]
    at = entry["created_at"].replace("+00:00", "Z")
    window = (await get(client, tenant, f"/audit?since={at}&path=/api/v1/contacts")).json()
    assert [e["operation"] for e in window["data"]] == ["search_contacts"]
    before = (await get(client, tenant, f"/audit?until={at}&request_id={request_id}")).json()
    assert before["data"] == []
    filtered = await get(client, tenant, "/audit?channel=rest&outcome=contact_not_found")
    assert [e["request_id"] for e in filtered.json()["data"]] == [request_id]
    token = await get(client, tenant, f"/audit?token_id={tenant.token_id}&limit=1")
    assert token.status_code == 200 and len(token.json()["data"]) == 1


async def test_workspace_summary_needs_any_read_scope(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    for scopes, status in ((["tasks:read"], 200), (["bi:read"], 200), (["crm:write"], 403)):
        token, _ = await make_token(runtime, tenant.workspace_id, scopes=scopes)
        r = await client.get(f"{API}/workspace", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == status, (scopes, r.text)
    r = await get(client, tenant, "/workspace")
    assert r.json()["data"]["id"] == tenant.workspace_id
    assert r.json()["data"]["rest_api_enabled"] is True


async def test_token_rotation_keeps_the_record(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    made = await post(
        client, tenant, "/tokens",
        {"name": "Looker", "scopes": ["crm:read"], "abilities": ["api:rest"],
         "expires_in_days": 90},
    )  # fmt: skip
    old = {"Authorization": f"Bearer {made['token']}"}
    assert (await client.get(f"{API}/contacts", headers=old)).status_code == 200
    r = await client.post(f"{API}/tokens/{made['id']}/rotate", headers=tenant.headers)
    assert r.status_code == 200, r.text
    rotated = r.json()["data"]
    assert rotated["id"] == made["id"] and rotated["token"] != made["token"]
    for key in ("name", "scopes", "abilities", "expires_at"):
        assert rotated[key] == made[key]
    assert (await client.get(f"{API}/contacts", headers=old)).status_code == 401
    new = {"Authorization": f"Bearer {rotated['token']}"}
    assert (await client.get(f"{API}/contacts", headers=new)).status_code == 200
    listed = (await get(client, tenant, "/tokens")).json()["data"]
    assert sum(t["id"] == made["id"] for t in listed) == 1
    # A caller cannot rotate (and so read) a token holding more than itself.
    admin_only = await make_token(runtime, tenant.workspace_id, scopes=["workspace:admin"])
    r = await client.post(
        f"{API}/tokens/{tenant.token_id}/rotate",
        headers={"Authorization": f"Bearer {admin_only[0]}"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_escalation"
    await client.delete(f"{API}/tokens/{made['id']}", headers=tenant.headers)
    r = await client.post(f"{API}/tokens/{made['id']}/rotate", headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "token_inactive"


async def test_idempotency_key_in_the_body(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """003: idempotency_key in the JSON body, as well as the header."""
    body = {"name": "Jane", "idempotency_key": "k-1"}
    first = await client.post(f"{API}/contacts", json=body, headers=tenant.headers)
    again = await client.post(f"{API}/contacts", json=body, headers=tenant.headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    header = {**tenant.headers, "Idempotency-Key": "k-1"}
    same = await client.post(f"{API}/contacts", json={"name": "Jane"}, headers=header)
    assert same.json()["data"]["id"] == first.json()["data"]["id"]
    both = await client.post(f"{API}/contacts", json=body, headers=header)
    assert both.json()["data"]["id"] == first.json()["data"]["id"]
    other = {**tenant.headers, "Idempotency-Key": "k-2"}
    clash = await client.post(f"{API}/contacts", json=body, headers=other)
    assert clash.status_code == 400
    assert clash.json()["error"]["code"] == "idempotency_key_mismatch"
    listed = (await get(client, tenant, "/contacts")).json()["data"]
    assert len(listed) == 1


async def test_kill_switch_turns_rest_off_and_leaves_mcp(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    from tests.mcp_server.helpers import memory_client

    r = await client.patch(
        f"{API}/workspace", json={"rest_api_enabled": False}, headers=tenant.headers
    )
    assert r.status_code == 200 and r.json()["data"]["rest_api_enabled"] is False
    off = await get(client, tenant, "/contacts")
    assert off.status_code == 404 and off.json()["error"]["code"] == "rest_api_disabled"
    async with memory_client(runtime, tenant.token) as mcp:
        result = await mcp.call_tool("search_contacts", {})
        assert not result.is_error
        result = await mcp.call_tool("update_workspace_settings", {"rest_api_enabled": True})
        assert not result.is_error
    assert (await get(client, tenant, "/contacts")).status_code == 200


def _runtime_with(runtime: Runtime, **changes: Any) -> Runtime:
    settings = Settings(**{**runtime.settings.model_dump(), **changes}, _env_file=None)  # type: ignore[call-arg]
    return Runtime(
        settings=settings, db=runtime.db, limiter=runtime.limiter, platform=runtime.platform
    )


@pytest.mark.parametrize("proto", [None, "http"])
async def test_force_https_redirects_plain_http(
    runtime: Runtime, tenant: Tenant, proto: str | None
) -> None:
    from rest.app import build_app

    app = build_app(
        _runtime_with(
            runtime, force_https=True, public_base_url="https://crm.example", trusted_proxies="*"
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        headers = {**tenant.headers, **({"X-Forwarded-Proto": proto} if proto else {})}
        r = await c.get(f"{API}/contacts?limit=5", headers=headers)
        assert r.status_code == 308
        assert r.headers["location"] == "https://crm.example/api/v1/contacts?limit=5"
        ok = await c.get(
            f"{API}/contacts", headers={**tenant.headers, "X-Forwarded-Proto": "https"}
        )
        assert ok.status_code == 200
        spec = (await c.get(f"{API}/openapi.json", headers={"X-Forwarded-Proto": "https"})).json()
        assert spec["servers"] == [{"url": "https://crm.example/api/v1"}]
        assert (await c.get("/healthz")).status_code == 200


async def test_forwarded_proto_is_believed_only_from_trusted_proxies(
    runtime: Runtime, tenant: Tenant
) -> None:
    from rest.app import build_app

    app = build_app(_runtime_with(runtime, force_https=True, trusted_proxies="10.0.0.1"))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get(f"{API}/me", headers={**tenant.headers, "X-Forwarded-Proto": "https"})
        assert r.status_code == 308
        assert r.headers["location"] == "https://testserver/api/v1/me"


async def test_audit_time_filters_take_iso_date_times_only(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (await get(client, tenant, "/audit?until=0.5")).status_code == 400
    at = "2000-01-01T00:00:00Z"
    empty = await get(client, tenant, f"/audit?since={at}&until={at}")
    assert empty.status_code == 200 and empty.json()["data"] == []


async def test_body_idempotency_key_must_be_a_string(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for key in (None, 5):
        r = await client.post(
            f"{API}/contacts", json={"name": "x", "idempotency_key": key}, headers=tenant.headers
        )
        assert r.status_code == 400, r.text


async def test_conversations_messages_notes_and_knowledge_resources(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The resource map's conversations (GET, POST, PATCH), messages (GET, POST), notes
    (GET, POST) and knowledge (GET, POST, PATCH, DELETE); 409 for assigning a closed
    conversation, as the status table's example says; ``?limit=50&after=`` on
    /conversations."""
    agent = await post(client, tenant, "/agents", {"name": "Bot"})
    first = await post(client, tenant, "/conversations", {"channel": "email"})
    conversation = await post(client, tenant, "/conversations", {"channel": "chat"})
    path = f"/conversations/{conversation['id']}"
    await post(client, tenant, path + "/messages", {"author_type": "contact", "body": "Hi"})
    await post(client, tenant, path + "/notes", {"body": "Internal"})
    assert [m["body"] for m in (await get(client, tenant, path + "/messages")).json()["data"]] == [
        "Hi"
    ]
    assert len((await get(client, tenant, path + "/notes")).json()["data"]) == 1
    page = (await get(client, tenant, "/conversations?limit=1")).json()
    cursor = page["pagination"]["next_cursor"]
    rest = (await get(client, tenant, f"/conversations?limit=50&after={cursor}")).json()
    assert [c["id"] for c in rest["data"]] == [first["id"]]

    closed = await client.patch(API + path, json={"status": "closed"}, headers=tenant.headers)
    assert closed.status_code == 200
    assign = await client.patch(
        API + path,
        json={"assignee_type": "agent", "assignee_id": agent["id"]},
        headers=tenant.headers,
    )
    assert assign.status_code == 409
    error = assign.json()["error"]
    assert error["code"] == "conversation_closed" and set(error) >= {"message", "request_id"}

    collection = await post(client, tenant, "/knowledge/collections", {"name": "Help"})
    article = await post(
        client, tenant, "/knowledge/articles",
        {"collection_id": collection["id"], "title": "Hours", "body": "Open 9 to 5."},
    )  # fmt: skip
    chunk = await post(
        client,
        tenant,
        "/knowledge/chunks",
        {"article_id": article["id"], "content": "Closed Sundays."},
    )
    patched = await client.patch(
        f"{API}/knowledge/articles/{article['id']}", json={"title": "Opening hours"},
        headers=tenant.headers,
    )  # fmt: skip
    assert patched.status_code == 200
    assert (await get(client, tenant, f"/knowledge/chunks/{chunk['id']}")).status_code == 200
    gone = await client.delete(f"{API}/knowledge/articles/{article['id']}", headers=tenant.headers)
    assert gone.status_code == 200
    missing = await get(client, tenant, "/conversations/conv_01jd00000000000000000000zz")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "conversation_not_found"
