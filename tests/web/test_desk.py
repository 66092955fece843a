"""The dashboard's support desk, conversations, agents, knowledge and usage-meter pages
over HTTP: filters, the forms (through the gate, audited on the dashboard channel), a
viewer's read-only pages and a forged POST refused, CSRF, and the nav by scope."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from core.audit.models import AuditEntry
from core.runtime import Runtime
from tests.factories import Tenant, owner_session
from tests.web.helpers import add_member, csrf_of, post_form, sign_in

API = "/api/v1"


async def _api(
    client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    answer = await client.post(API + path, json=body, headers=tenant.headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["data"]


async def _seed(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    """A queue with two tickets (one with a thread), an agent, a conversation, an article."""
    queue = await _api(client, tenant, "/support/queues", {"key": "billing", "name": "Billing"})
    other = await _api(client, tenant, "/support/queues", {"key": "tech", "name": "Tech"})
    ticket = await _api(
        client,
        tenant,
        "/support/tickets",
        {"subject": "Refund my invoice", "queue_id": queue["id"], "priority": "high"},
    )
    await _api(
        client,
        tenant,
        "/support/tickets",
        {"subject": "Printer on fire", "queue_id": other["id"], "assignee_id": "usr_ops"},
    )
    await _api(
        client,
        tenant,
        f"/support/tickets/{ticket['id']}/messages",
        {"body": "Please refund invoice 42.", "direction": "inbound"},
    )
    await _api(client, tenant, f"/support/tickets/{ticket['id']}/comments", {"body": "Older note"})
    await _api(
        client,
        tenant,
        f"/support/tickets/{ticket['id']}/comments",
        {"body": "VIP customer", "pinned": True},
    )
    collection = await _api(client, tenant, "/knowledge/collections", {"name": "Help centre"})
    article = await _api(
        client,
        tenant,
        "/knowledge/articles",
        {"collection_id": collection["id"], "title": "Refund policy", "body": "Within 30 days."},
    )
    agent = await _api(
        client, tenant, "/agents", {"name": "Sales bot", "collection_id": collection["id"]}
    )
    conversation = await _api(
        client, tenant, "/conversations", {"agent_id": agent["id"], "subject": "Pricing question"}
    )
    await _api(
        client,
        tenant,
        f"/conversations/{conversation['id']}/messages",
        {"author_type": "contact", "body": "How much is pro?"},
    )
    return {
        "queue": queue,
        "ticket": ticket,
        "collection": collection,
        "article": article,
        "agent": agent,
        "conversation": conversation,
    }


async def _audited(runtime: Runtime, tenant: Tenant, operation: str) -> list[tuple[str, str]]:
    async with owner_session(runtime) as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.workspace_id == tenant.workspace_id,
                        AuditEntry.operation == operation,
                        AuditEntry.channel == "dashboard",
                    )
                )
            )
            .scalars()
            .all()
        )
    return [(r.token_name or "", r.outcome) for r in rows]


async def test_the_new_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    for path in ("/tickets", "/conversations", "/agents", "/knowledge", "/tickets/ticket_x"):
        answer = await browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


async def test_tickets_filters_thread_reply_and_comment(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    seeded = await _seed(browser, tenant)
    await add_member(runtime, tenant.workspace_id, "agent@acme.test", "member")
    await sign_in(browser, "agent@acme.test")
    home = await browser.get("/")
    for href in ("/tickets", "/conversations", "/knowledge", "/agents"):
        assert f'href="{href}"' in home.text
    listed = await browser.get("/tickets")
    assert listed.status_code == 200
    assert "Refund my invoice" in listed.text and "Printer on fire" in listed.text
    by_queue = await browser.get("/tickets", params={"queue_id": seeded["queue"]["id"]})
    assert "Refund my invoice" in by_queue.text and "Printer on fire" not in by_queue.text
    for params in (
        {"priority": "high"},
        {"query": "refund"},
        {"status": "new", "priority": "high"},
        {"breached": "false", "priority": "high"},
    ):
        page = await browser.get("/tickets", params=params)
        assert "Refund my invoice" in page.text and "Printer on fire" not in page.text, params
    assigned = await browser.get("/tickets", params={"assignee_id": "usr_ops"})
    assert "Printer on fire" in assigned.text and "Refund my invoice" not in assigned.text
    bad = await browser.get("/tickets", params={"status": "nope"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text

    path = f"/tickets/{seeded['ticket']['id']}"
    page = await browser.get(path)
    assert page.status_code == 200 and "Please refund invoice 42." in page.text
    assert page.text.index("VIP customer") < page.text.index("Older note")  # pinned first
    assert "Send reply" in page.text and "Add comment" in page.text
    replied = await post_form(browser, path, path + "/messages", {"body": "Refunded today."})
    assert replied.status_code == 303, replied.text[:2000]
    commented = await post_form(
        browser, path, path + "/comments", {"body": "Checked with finance", "pinned": "true"}
    )
    assert commented.status_code == 303
    updated = await post_form(browser, path, path, {"status": "resolved", "priority": "low"})
    assert updated.status_code == 303
    page = await browser.get(path)
    assert "Refunded today." in page.text and "Checked with finance" in page.text
    assert "Reply · you ·" in page.text  # the reply names the member who wrote it
    assert "<dt>Status</dt><dd>resolved</dd>" in page.text
    empty = await post_form(browser, path, path + "/messages", {"body": ""})
    assert empty.status_code in (400, 422) and 'role="alert"' in empty.text
    assert ("agent@acme.test", "ok") in await _audited(
        runtime, tenant, "add_support_ticket_message"
    )
    missing = await browser.get("/tickets/ticket_0000000000000000000000")
    assert missing.status_code in (400, 404)


async def test_conversation_transcript_notes_message_and_status(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    seeded = await _seed(browser, tenant)
    await add_member(runtime, tenant.workspace_id, "agent@acme.test", "member")
    await sign_in(browser, "agent@acme.test")
    listed = await browser.get("/conversations")
    assert listed.status_code == 200 and "Pricing question" in listed.text
    assert "Sales bot" in listed.text
    agent_id = seeded["agent"]["id"]
    assert "Pricing question" in (await browser.get(f"/conversations?agent_id={agent_id}")).text
    assert "Pricing question" not in (await browser.get("/conversations?status=closed")).text
    path = f"/conversations/{seeded['conversation']['id']}"
    page = await browser.get(path)
    assert "How much is pro?" in page.text and "Add note" in page.text
    noted = await post_form(browser, path, path + "/notes", {"body": "Hot lead"})
    assert noted.status_code == 303
    posted = await post_form(browser, path, path + "/messages", {"body": "49 a month."})
    assert posted.status_code == 303
    closed = await post_form(browser, path, path, {"status": "closed"})
    assert closed.status_code == 303
    page = await browser.get(path)
    assert "Hot lead" in page.text and "agent@acme.test" in page.text
    assert "49 a month." in page.text and "Post message" not in page.text  # closed
    assert ("agent@acme.test", "ok") in await _audited(runtime, tenant, "create_note")


async def test_agents_for_admins_and_knowledge_articles(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    seeded = await _seed(browser, tenant)
    await add_member(runtime, tenant.workspace_id, "admin@acme.test", "admin")
    await sign_in(browser, "admin@acme.test")
    agents = await browser.get("/agents")
    assert agents.status_code == 200 and "Sales bot" in agents.text and "Help centre" in agents.text
    created = await post_form(
        browser, "/agents", "/agents", {"name": "Support bot", "status": "inactive"}
    )
    assert created.status_code == 303, created.text[:2000]
    page = await browser.get(created.headers["location"])
    assert "Support bot" in page.text and "inactive" in page.text
    where = created.headers["location"].split("?")[0]
    renamed = await post_form(browser, where, where, {"name": "Helpdesk bot", "status": "active"})
    assert renamed.status_code == 303
    assert "Helpdesk bot" in (await browser.get("/agents")).text
    blank = await post_form(browser, "/agents", "/agents", {"name": ""})
    assert blank.status_code in (400, 422) and 'role="alert"' in blank.text

    knowledge = await browser.get("/knowledge")
    assert "Help centre" in knowledge.text and "Refund policy" in knowledge.text
    collection_id = seeded["collection"]["id"]
    new = f"/knowledge/articles/new?collection_id={collection_id}"
    added = await post_form(
        browser,
        new,
        "/knowledge/articles",
        {"collection_id": collection_id, "title": "Shipping", "body": "Two days."},
    )
    assert added.status_code == 303, added.text[:2000]
    article = await browser.get(added.headers["location"])
    assert "Shipping" in article.text and "Two days." in article.text
    path = added.headers["location"].split("?")[0]
    edited = await post_form(
        browser, path + "?edit=1", path, {"title": "Shipping times", "body": "Three days."}
    )
    assert edited.status_code == 303
    shown = await browser.get(path)
    assert "Shipping times" in shown.text and "Three days." in shown.text
    untitled = await post_form(
        browser, new, "/knowledge/articles", {"collection_id": collection_id}
    )
    assert untitled.status_code in (400, 422) and 'role="alert"' in untitled.text


async def test_a_viewer_reads_but_sees_no_write_forms_and_forged_posts_are_refused(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    seeded = await _seed(browser, tenant)
    await add_member(runtime, tenant.workspace_id, "viewer@acme.test", "viewer")
    await sign_in(browser, "viewer@acme.test")
    ticket = f"/tickets/{seeded['ticket']['id']}"
    conversation = f"/conversations/{seeded['conversation']['id']}"
    agent = f"/agents/{seeded['agent']['id']}"
    article = f"/knowledge/articles/{seeded['article']['id']}"
    pages = {
        ticket: ("Send reply", "Add comment", "Update ticket"),
        conversation: ("Add note", "Post message", "Change status"),
        "/agents": ("Create agent",),
        agent: ("Save agent",),
        "/knowledge": ("New article",),
        article: ("Edit article", "Save article"),
    }
    for path, buttons in pages.items():
        page = await browser.get(path)
        assert page.status_code == 200, path
        for button in buttons:
            assert button not in page.text, (path, button)
    assert "Save article" not in (await browser.get(article + "?edit=1")).text
    csrf = csrf_of((await browser.get(ticket)).text)
    forged = {
        ticket + "/messages": {"body": "forged"},
        ticket + "/comments": {"body": "forged"},
        ticket: {"status": "closed"},
        conversation + "/notes": {"body": "forged"},
        conversation: {"status": "closed"},
        "/agents": {"name": "forged"},
        agent: {"name": "forged"},
        "/knowledge/articles": {
            "collection_id": seeded["collection"]["id"],
            "title": "forged",
            "body": "x",
        },
        article: {"title": "forged"},
    }
    for action, data in forged.items():
        refused = await browser.post(action, data={"csrf_token": csrf, **data})
        assert refused.status_code == 403 and "scope_missing" in refused.text, action
    assert "forged" not in (await browser.get(ticket)).text
    assert ("viewer@acme.test", "scope_missing") in await _audited(
        runtime, tenant, "add_support_ticket_comment"
    )


async def test_the_new_forms_need_the_csrf_token(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    seeded = await _seed(browser, tenant)
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    ticket = f"/tickets/{seeded['ticket']['id']}"
    conversation = f"/conversations/{seeded['conversation']['id']}"
    for action in (
        ticket + "/messages",
        ticket + "/comments",
        conversation + "/notes",
        conversation + "/messages",
        "/agents",
        "/knowledge/articles",
    ):
        for token in (None, "0" * 64):
            data = {"body": "forged", "name": "forged", "title": "forged"}
            if token:
                data["csrf_token"] = token
            refused = await browser.post(action, data=data)
            assert refused.status_code == 403 and "csrf_failed" in refused.text, action
    assert "forged" not in (await browser.get(ticket)).text


async def test_the_nav_follows_scopes_and_modules(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    assert 'href="/tickets"' in (await browser.get("/")).text
    async with runtime.db.session(tenant.workspace_id) as session:
        from core.workspaces.models import Workspace

        row = await session.get(Workspace, tenant.workspace_id)
        assert row is not None
        row.enabled_modules = [m for m in row.enabled_modules if m != "support"]
        session.add(row)
    home = await browser.get("/")
    assert 'href="/tickets"' not in home.text and 'href="/conversations"' in home.text
    refused = await browser.get("/tickets")
    assert refused.status_code == 403


async def test_usage_shows_the_meters_against_the_plan_limits(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await add_member(runtime, tenant.workspace_id, "viewer@acme.test", "viewer")
    await sign_in(browser, "owner@acme.test")
    usage = await browser.get("/usage")
    assert usage.status_code == 200 and "Meters this billing cycle" in usage.text
    assert "Active tokens" in usage.text and "<meter" in usage.text
    assert usage.text.count("<svg") == 2  # the charts stay
    await browser.post("/signout", data={"csrf_token": csrf_of(usage.text)})
    await sign_in(browser, "viewer@acme.test")
    usage = await browser.get("/usage")
    assert usage.status_code == 200 and "Meters this billing cycle" not in usage.text
