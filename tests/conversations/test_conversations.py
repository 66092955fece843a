"""Agents, conversations, messages and notes: status rules and 409s, assignment, the
transcript's pages, notes that never leak, erasure, leads by agent."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import select

from core.conversations.models import Message, Note
from core.events.models import DomainEvent
from core.members import service as members
from core.runtime import Runtime
from tests.factories import Tenant, owner_session, token_for

API = "/api/v1"


async def call(
    client: httpx.AsyncClient, t: Tenant | dict[str, str], method: str, path: str, **kw: Any
) -> httpx.Response:
    headers = t.headers if isinstance(t, Tenant) else t
    return await client.request(method, API + path, headers=headers, **kw)


async def made(client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]) -> dict:
    r = await call(client, t, "POST", path, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def code(r: httpx.Response) -> str:
    return r.json()["error"]["code"]


async def events(runtime: Runtime, ws: str, type_: str) -> list[dict[str, Any]]:
    async with owner_session(runtime) as session:
        stmt = (
            select(DomainEvent.data)
            .where(DomainEvent.workspace_id == ws, DomainEvent.type == type_)
            .order_by(DomainEvent.id)
        )
        return list((await session.execute(stmt)).scalars())


async def test_agents_need_admin_to_change_and_count_conversations_and_leads(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    writer = {
        "Authorization": "Bearer "
        + await token_for(
            runtime, tenant, ["conversations:read", "conversations:write", "crm:read", "crm:write"]
        )
    }
    denied = await call(client, writer, "POST", "/agents", json={"name": "Bot"})
    assert denied.status_code == 403 and code(denied) == "scope_missing"
    assert denied.json()["error"]["details"]["required_scope"] == "workspace:admin"

    foreign = await made(client, other_tenant, "/knowledge/collections", {"name": "Theirs"})
    bad = await call(
        client, tenant, "POST", "/agents", json={"name": "Bot", "collection_id": foreign["id"]}
    )
    assert bad.status_code == 404 and code(bad) == "collection_not_found"
    url = await call(client, tenant, "POST", "/agents", json={"name": "B", "site_url": "ftp://x"})
    assert url.status_code == 422 and code(url) == "invalid_site_url"

    collection = await made(client, tenant, "/knowledge/collections", {"name": "Help"})
    bot = await made(
        client,
        tenant,
        "/agents",
        {"name": "Bot", "site_url": "https://acme.test", "collection_id": collection["id"]},
    )
    idle = await made(client, tenant, "/agents", {"name": "Idle", "status": "inactive"})
    assert bot["status"] == "active" and bot["collection_id"] == collection["id"]
    assert (bot["conversation_count"], bot["leads_captured"]) == (0, 0)

    # leads gain agent_id; GET /leads?agent_id= lists the agent's (000)
    await made(client, tenant, "/leads", {"name": "Priya", "agent_id": bot["id"]})
    await made(client, tenant, "/leads", {"name": "Other"})
    lost = await call(client, tenant, "POST", "/leads", json={"name": "X", "agent_id": "agt_x"})
    assert lost.status_code == 404 and code(lost) == "agent_not_found"
    theirs = await made(client, other_tenant, "/agents", {"name": "Theirs"})
    cross = await call(
        client, tenant, "POST", "/leads", json={"name": "X", "agent_id": theirs["id"]}
    )
    assert cross.status_code == 404 and code(cross) == "agent_not_found"
    by_agent = await call(client, tenant, "GET", f"/leads?agent_id={bot['id']}")
    assert [lead["name"] for lead in by_agent.json()["data"]] == ["Priya"]
    assert by_agent.json()["data"][0]["agent_id"] == bot["id"]
    foreign_filter = await call(client, tenant, "GET", f"/leads?agent_id={theirs['id']}")
    assert foreign_filter.status_code == 404

    await made(client, tenant, "/conversations", {"agent_id": bot["id"], "channel": "web"})
    got = (await call(client, writer, "GET", f"/agents/{bot['id']}")).json()["data"]
    assert (got["conversation_count"], got["leads_captured"]) == (1, 1)
    active = (await call(client, tenant, "GET", "/agents?status=active")).json()["data"]
    assert [a["id"] for a in active] == [bot["id"]]
    inactive = (await call(client, tenant, "GET", "/agents?status=inactive")).json()["data"]
    assert [a["id"] for a in inactive] == [idle["id"]]
    r = await call(client, tenant, "PATCH", f"/agents/{bot['id']}", json={"status": "inactive"})
    assert r.status_code == 200 and r.json()["data"]["status"] == "inactive"
    assert r.json()["data"]["leads_captured"] == 1


async def test_closed_conversation_refuses_messages_and_assignment_until_reopened(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    contact = await made(client, tenant, "/contacts", {"name": "Jane"})
    bot = await made(client, tenant, "/agents", {"name": "Bot"})
    conv = await made(
        client,
        tenant,
        "/conversations",
        {"contact_id": contact["id"], "agent_id": bot["id"], "channel": "chat"},
    )
    assert conv["status"] == "active" and conv["message_count"] == 0
    path = f"/conversations/{conv['id']}"
    hello = await made(client, tenant, path + "/messages", {"author_type": "contact", "body": "Hi"})
    assert hello["author_id"] == contact["id"]
    answer = await made(client, tenant, path + "/messages", {"author_type": "agent", "body": "Hey"})
    assert answer["author_id"] == bot["id"]
    wrong = await call(
        client,
        tenant,
        "POST",
        path + "/messages",
        json={"author_type": "contact", "author_id": bot["id"], "body": "x"},
    )
    assert wrong.status_code == 400

    closed = await call(client, tenant, "PATCH", path, json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["data"]["closed_at"]
    post = await call(
        client,
        tenant,
        "POST",
        path + "/messages",
        json={"author_type": "agent", "body": "Still there?"},
    )
    assert post.status_code == 409 and code(post) == "conversation_closed"
    assign = await call(
        client, tenant, "PATCH", path, json={"assignee_type": "agent", "assignee_id": bot["id"]}
    )
    assert assign.status_code == 409 and code(assign) == "conversation_closed"
    escalate = await call(client, tenant, "PATCH", path, json={"status": "escalated"})
    assert escalate.status_code == 409 and code(escalate) == "conversation_closed"
    # notes are allowed on a closed conversation (internal)
    await made(client, tenant, path + "/notes", {"body": "Closed politely"})

    reopened = await call(
        client,
        tenant,
        "PATCH",
        path,
        json={"status": "active", "assignee_type": "agent", "assignee_id": bot["id"]},
    )
    assert reopened.status_code == 200, reopened.text
    data = reopened.json()["data"]
    assert data["status"] == "active" and "closed_at" not in data
    assert (data["assignee_type"], data["assignee_id"]) == ("agent", bot["id"])
    await made(client, tenant, path + "/messages", {"author_type": "system", "body": "Reopened"})
    got = (await call(client, tenant, "GET", path)).json()["data"]
    assert got["message_count"] == 3 and got["last_message_at"]

    changes = await events(runtime, tenant.workspace_id, "conversation.status_changed")
    assert [(e["previous_status"], e["status"]) for e in changes] == [
        ("active", "closed"),
        ("closed", "active"),
    ]
    assert len(await events(runtime, tenant.workspace_id, "conversation.created")) == 1
    assert [e["body"] for e in await events(runtime, tenant.workspace_id, "message.created")] == [
        "Hi",
        "Hey",
        "Reopened",
    ]

    listed = await call(client, tenant, "GET", "/conversations?status=active")
    assert [c["id"] for c in listed.json()["data"]] == [conv["id"]]
    assert (await call(client, tenant, "GET", "/conversations?status=closed")).json()["data"] == []


async def test_assignment_to_a_member_or_agent_of_the_workspace(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with runtime.db.session(tenant.workspace_id) as session:
        joined = await members.add_member(
            session,
            tenant.workspace_id,
            email="sam@example.com",
            role="member",
            password="correct horse battery",
        )
        member_id = joined.member.id
    theirs = await made(client, other_tenant, "/agents", {"name": "Theirs"})
    conv = await made(
        client,
        tenant,
        "/conversations",
        {"channel": "email", "assignee_type": "member", "assignee_id": member_id},
    )
    assert (conv["assignee_type"], conv["assignee_id"]) == ("member", member_id)
    path = f"/conversations/{conv['id']}"
    r = await call(
        client, tenant, "PATCH", path, json={"assignee_type": "agent", "assignee_id": theirs["id"]}
    )
    assert r.status_code == 404 and code(r) == "agent_not_found"
    r = await call(
        client, tenant, "PATCH", path, json={"assignee_type": "member", "assignee_id": "mem_nobody"}
    )
    assert r.status_code == 404 and code(r) == "member_not_found"
    half = await call(client, tenant, "PATCH", path, json={"assignee_type": "member"})
    assert half.status_code == 422 and code(half) == "assignee_incomplete"
    cleared = await call(
        client, tenant, "PATCH", path, json={"assignee_type": None, "assignee_id": None}
    )
    assert "assignee_id" not in cleared.json()["data"]
    bad_channel = await call(client, tenant, "POST", "/conversations", json={"channel": "fax"})
    assert bad_channel.status_code == 400


async def test_transcript_pages_oldest_first_with_cursors(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    conv = await made(client, tenant, "/conversations", {"channel": "api"})
    other = await made(client, tenant, "/conversations", {"channel": "api"})
    path = f"/conversations/{conv['id']}/messages"
    bodies = [f"m{i}" for i in range(23)]
    for body in bodies:
        await made(client, tenant, path, {"author_type": "system", "body": body})
    await made(
        client,
        tenant,
        f"/conversations/{other['id']}/messages",
        {"author_type": "system", "body": "elsewhere"},
    )
    seen: list[str] = []
    cursor = None
    while True:
        r = await call(
            client,
            tenant,
            "GET",
            path,
            params={"limit": 10} | ({"after": cursor} if cursor else {}),
        )
        assert r.status_code == 200, r.text
        seen += [m["body"] for m in r.json()["data"]]
        cursor = r.json()["pagination"]["next_cursor"]
        if not r.json()["pagination"]["has_more"]:
            break
        first_cursor = cursor
    assert seen == bodies
    wrong = await call(
        client,
        tenant,
        "GET",
        f"/conversations/{other['id']}/messages",
        params={"cursor": first_cursor},
    )
    assert wrong.status_code == 400 and code(wrong) == "invalid_cursor"
    paged = await call(client, tenant, "GET", path, params={"page": 2, "per_page": 5})
    assert [m["body"] for m in paged.json()["data"]] == bodies[5:10]


async def test_notes_never_reach_the_transcript_or_its_events(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    contact = await made(client, tenant, "/contacts", {"name": "Jane"})
    conv = await made(client, tenant, "/conversations", {"contact_id": contact["id"]})
    path = f"/conversations/{conv['id']}"
    await made(client, tenant, path + "/messages", {"author_type": "contact", "body": "Hello"})
    secret = "internal-only: churn risk"
    note = await made(client, tenant, path + "/notes", {"body": secret, "author": "sam"})
    assert note["body"] == secret
    notes = (await call(client, tenant, "GET", path + "/notes")).json()["data"]
    assert [n["id"] for n in notes] == [note["id"]]
    transcript = await call(client, tenant, "GET", path + "/messages")
    assert secret not in transcript.text and [m["body"] for m in transcript.json()["data"]] == [
        "Hello"
    ]
    assert secret not in (await call(client, tenant, "GET", path)).text
    assert secret not in (await call(client, tenant, "GET", "/conversations")).text
    async with owner_session(runtime) as session:
        stored = (
            (
                await session.execute(
                    select(DomainEvent.data).where(DomainEvent.workspace_id == tenant.workspace_id)
                )
            )
            .scalars()
            .all()
        )
        messages = (await session.execute(select(Message.body))).scalars().all()
    assert all(secret not in json.dumps(data) for data in stored)
    assert secret not in messages
    reader = {"Authorization": "Bearer " + await token_for(runtime, tenant, ["crm:read"])}
    assert (await call(client, reader, "GET", path + "/notes")).status_code == 403


async def test_erasing_a_contact_blanks_its_conversations(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    jane = await made(client, tenant, "/contacts", {"name": "Jane"})
    bob = await made(client, tenant, "/contacts", {"name": "Bob"})
    conv = await made(
        client, tenant, "/conversations", {"contact_id": jane["id"], "subject": "Jane's refund"}
    )
    kept = await made(client, tenant, "/conversations", {"contact_id": bob["id"]})
    path = f"/conversations/{conv['id']}"
    await made(
        client, tenant, path + "/messages", {"author_type": "contact", "body": "My card is 4242"}
    )
    await made(client, tenant, path + "/notes", {"body": "Jane is upset"})
    await made(
        client,
        tenant,
        f"/conversations/{kept['id']}/messages",
        {"author_type": "contact", "body": "Bob here"},
    )

    r = await call(client, tenant, "DELETE", f"/contacts/{jane['id']}")
    assert r.status_code == 200, r.text
    transcript = (await call(client, tenant, "GET", path + "/messages")).json()["data"]
    assert [m["body"] for m in transcript] == ["(erased)"]
    notes = (await call(client, tenant, "GET", path + "/notes")).json()["data"]
    assert [n["body"] for n in notes] == ["(erased)"]
    assert "subject" not in (await call(client, tenant, "GET", path)).json()["data"]
    bobs = (await call(client, tenant, "GET", f"/conversations/{kept['id']}/messages")).json()
    assert [m["body"] for m in bobs["data"]] == ["Bob here"]
    created = await events(runtime, tenant.workspace_id, "message.created")
    assert {"id": transcript[0]["id"], "erased": True} in created
    assert any(e.get("body") == "Bob here" for e in created)
    assert all("4242" not in json.dumps(e) for e in created)
    started = await events(runtime, tenant.workspace_id, "conversation.created")
    assert all("Jane's refund" not in json.dumps(e) for e in started)
    async with owner_session(runtime) as session:
        assert "Jane is upset" not in (await session.execute(select(Note.body))).scalars().all()
