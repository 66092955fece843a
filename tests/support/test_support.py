"""Support desk: queues, tickets, status rules, messages and comments, every list filter,
the first-response SLA (with a controllable clock and the worker's check), events and
erasure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.db import utcnow
from core.events.models import DomainEvent
from core.jobs import claim
from core.runtime import Runtime
from core.support import clock
from core.support.jobs import SLA_QUEUE
from core.support.models import SupportSlaCheck, SupportTicket
from core.support.sla import check_breach
from tests.factories import Tenant, owner_session

API = "/api/v1"


async def post(c: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]) -> httpx.Response:
    return await c.post(API + path, json=body, headers=t.headers)


async def created(
    c: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await post(c, t, path, body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def patch(c: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]) -> httpx.Response:
    return await c.patch(API + path, json=body, headers=t.headers)


async def ids(c: httpx.AsyncClient, t: Tenant, path: str, **params: Any) -> list[str]:
    r = await c.get(API + path, params=params, headers=t.headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["data"]]


async def events(runtime: Runtime, ws: str, type_: str) -> list[dict[str, Any]]:
    async with owner_session(runtime) as session:
        stmt = (
            select(DomainEvent.data)
            .where(DomainEvent.workspace_id == ws, DomainEvent.type == type_)
            .order_by(DomainEvent.id)
        )
        return list((await session.execute(stmt)).scalars())


def code(r: httpx.Response) -> str:
    return r.json()["error"]["code"]


class Clock:
    """The support domain's clock, set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
        self.at = at
        monkeypatch.setattr(clock, "now", lambda: self.at)

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def test_queue_key_is_unique_per_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"key": "priority", "name": "Priority Support", "first_response_target_minutes": 120}
    queue = await created(client, tenant, "/support/queues", body)
    assert queue["status"] == "active" and queue["first_response_target_minutes"] == 120
    again = await post(client, tenant, "/support/queues", body)
    assert again.status_code == 409 and code(again) == "support_queue_exists"
    assert (await post(client, other_tenant, "/support/queues", body)).status_code == 201
    bad = await post(client, tenant, "/support/queues", {"key": "Bad Key", "name": "x"})
    assert bad.status_code == 400
    await created(
        client,
        tenant,
        "/support/queues",
        {
            "key": "billing",
            "name": "Billing desk",
            "status": "paused",
            "custom_fields": {"region": "eu"},
        },
    )
    assert await ids(client, tenant, "/support/queues", status="paused") != []
    assert len(await ids(client, tenant, "/support/queues", query="PRIORITY")) == 1
    assert len(await ids(client, tenant, "/support/queues", query="desk")) == 1
    assert (
        len(
            await ids(
                client,
                tenant,
                "/support/queues",
                custom_field_key="region",
                custom_field_value="eu",
            )
        )
        == 1
    )
    assert (
        await ids(
            client, tenant, "/support/queues", custom_field_key="region", custom_field_value="us"
        )
        == []
    )
    assert await ids(client, tenant, "/support/queues", query="100%") == []


async def test_ticket_links_are_checked_in_the_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await created(client, other_tenant, "/contacts", {"name": "Not yours"})
    r = await post(
        client, tenant, "/support/tickets", {"subject": "x", "contact_id": foreign["id"]}
    )
    assert r.status_code == 404 and code(r) == "contact_not_found"
    foreign_queue = await created(
        client, other_tenant, "/support/queues", {"key": "q", "name": "Q"}
    )
    r = await post(
        client, tenant, "/support/tickets", {"subject": "x", "queue_id": foreign_queue["id"]}
    )
    assert r.status_code == 404 and code(r) == "queue_not_found"
    for field, type_ in (
        ("company_id", "company"),
        ("deal_id", "deal"),
        ("lead_id", "lead"),
        ("invoice_id", "invoice"),
    ):
        r = await post(
            client,
            tenant,
            "/support/tickets",
            {"subject": "x", field: "zz_01jd00000000000000000000zz"},
        )
        assert r.status_code == 404 and code(r) == f"{type_}_not_found", r.text
    ticket = await created(client, tenant, "/support/tickets", {"subject": "x"})
    r = await patch(
        client, tenant, f"/support/tickets/{ticket['id']}", {"contact_id": foreign["id"]}
    )
    assert r.status_code == 404 and code(r) == "contact_not_found"
    r = await post(client, tenant, "/support/tickets", {"subject": "x", "status": "stuck"})
    assert r.status_code == 400
    r = await post(client, tenant, "/support/tickets", {"subject": "x", "colour": "red"})
    assert r.status_code == 400


async def test_status_rules(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> None:
    ticket = await created(
        client, tenant, "/support/tickets", {"subject": "Cannot log in", "priority": "high"}
    )
    assert (ticket["status"], ticket["priority"], ticket["source"]) == ("new", "high", "api")
    tid = ticket["id"]
    path = f"/support/tickets/{tid}"
    # the first reply opens a new ticket and stamps first_responded_at
    reply = await created(client, tenant, path + "/messages", {"body": "Looking into it."})
    assert (reply["direction"], reply["channel"], reply["ticket_id"]) == ("outbound", "api", tid)
    got = (await client.get(API + path, headers=tenant.headers)).json()["data"]
    assert got["status"] == "open" and got["first_responded_at"]
    # waiting on the customer, who answers: open again
    r = await patch(client, tenant, path, {"status": "waiting_on_customer"})
    assert r.json()["data"]["status"] == "waiting_on_customer"
    await created(
        client,
        tenant,
        path + "/messages",
        {"direction": "inbound", "channel": "email", "body": "Here it is"},
    )
    got = (await client.get(API + path, headers=tenant.headers)).json()["data"]
    assert got["status"] == "open"
    # resolved stamps resolved_at; closed stamps closed_at
    r = await patch(client, tenant, path, {"status": "resolved"})
    assert r.json()["data"]["resolved_at"]
    r = await patch(client, tenant, path, {"status": "closed"})
    closed = r.json()["data"]
    assert closed["status"] == "closed" and closed["closed_at"] and closed["resolved_at"]
    # a closed ticket: no edits, no replies; internal comments are fine
    r = await patch(client, tenant, path, {"priority": "low"})
    assert r.status_code == 409 and code(r) == "ticket_closed"
    r = await post(client, tenant, path + "/messages", {"direction": "outbound", "body": "Hi"})
    assert r.status_code == 409 and code(r) == "ticket_closed"
    await created(
        client, tenant, path + "/comments", {"body": "Customer was happy", "pinned": True}
    )
    # an inbound message reopens it
    await created(client, tenant, path + "/messages", {"direction": "inbound", "body": "Again!"})
    got = (await client.get(API + path, headers=tenant.headers)).json()["data"]
    assert got["status"] == "open" and "closed_at" not in got and "resolved_at" not in got
    # closing and reopening by status
    await patch(client, tenant, path, {"status": "closed"})
    r = await patch(client, tenant, path, {"status": "open", "priority": "urgent"})
    assert r.status_code == 200 and r.json()["data"]["priority"] == "urgent"
    types = [e["status"] for e in await events(runtime, tenant.workspace_id, "ticket.updated")]
    assert types[-1] == "open" and "closed" in types
    assert len(await events(runtime, tenant.workspace_id, "ticket.created")) == 1
    added = await events(runtime, tenant.workspace_id, "ticket.message_added")
    assert [m["direction"] for m in added] == ["outbound", "inbound", "inbound"]


async def test_thread_lists(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    tid = (await created(client, tenant, "/support/tickets", {"subject": "Thread"}))["id"]
    path = f"/support/tickets/{tid}"
    m1 = await created(
        client,
        tenant,
        path + "/messages",
        {"direction": "inbound", "body": "Invoice missing", "custom_fields": {"lang": "de"}},
    )
    m2 = await created(client, tenant, path + "/messages", {"body": "Sent again"})
    assert await ids(client, tenant, path + "/messages") == [m2["id"], m1["id"]]
    assert await ids(client, tenant, path + "/messages", direction="inbound") == [m1["id"]]
    assert await ids(client, tenant, path + "/messages", query="INVOICE") == [m1["id"]]
    assert await ids(client, tenant, path + "/messages", custom_field_key="lang") == [m1["id"]]
    # 003 also lists ticket_id as a query parameter: the same id is accepted
    assert await ids(client, tenant, path + "/messages", ticket_id=tid) == [m2["id"], m1["id"]]
    c1 = await created(client, tenant, path + "/comments", {"body": "Pinned note", "pinned": True})
    c2 = await created(client, tenant, path + "/comments", {"body": "Other note"})
    assert await ids(client, tenant, path + "/comments") == [c2["id"], c1["id"]]
    assert await ids(client, tenant, path + "/comments", pinned="true") == [c1["id"]]
    assert await ids(client, tenant, path + "/comments", query="other") == [c2["id"]]
    r = await client.get(API + path + "/messages", headers=other_tenant.headers)
    assert r.status_code == 404 and code(r) == "ticket_not_found"
    r = await post(client, other_tenant, path + "/comments", {"body": "x"})
    assert r.status_code == 404
    r = await post(client, tenant, path + "/messages", {"body": ""})
    assert r.status_code == 400


async def test_every_ticket_filter(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    company = await created(client, tenant, "/companies", {"name": "Acme"})
    lead = await created(client, tenant, "/leads", {"name": "Priya"})
    deal = await created(client, tenant, "/deals", {"name": "Pilot", "company_id": company["id"]})
    invoice = await created(
        client,
        tenant,
        "/invoices",
        {
            "invoice_number": "INV-1",
            "line_items": [{"kind": "service", "name": "Setup", "unit_amount_cents": 100}],
        },
    )
    queue = await created(client, tenant, "/support/queues", {"key": "vip", "name": "VIP"})
    full = await created(
        client,
        tenant,
        "/support/tickets",
        {
            "subject": "Printer on fire",
            "description": "Smoke everywhere",
            "status": "pending",
            "priority": "urgent",
            "source": "phone",
            "category": "hardware",
            "queue_id": queue["id"],
            "assignee_id": "agent-7",
            "contact_id": contact["id"],
            "company_id": company["id"],
            "deal_id": deal["id"],
            "lead_id": lead["id"],
            "invoice_id": invoice["id"],
            "custom_fields": {"tier": "gold", "seats": 5},
        },
    )
    plain = await created(
        client, tenant, "/support/tickets", {"subject": "Password reset", "category": "account"}
    )
    await created(client, other_tenant, "/support/tickets", {"subject": "Printer on fire"})
    both = sorted([full["id"], plain["id"]], reverse=True)
    assert await ids(client, tenant, "/support/tickets") == both
    for name, value in (
        ("status", "pending"),
        ("priority", "urgent"),
        ("source", "phone"),
        ("category", "hardware"),
        ("queue_id", queue["id"]),
        ("assignee_id", "agent-7"),
        ("contact_id", contact["id"]),
        ("company_id", company["id"]),
        ("deal_id", deal["id"]),
        ("lead_id", lead["id"]),
        ("invoice_id", invoice["id"]),
        ("query", "printer fire"),
        ("query", "smoke"),
        ("query", "HARDWARE"),
    ):
        assert await ids(client, tenant, "/support/tickets", **{name: value}) == [full["id"]], name
    assert await ids(client, tenant, "/support/tickets", custom_field_key="tier") == [full["id"]]
    assert await ids(
        client, tenant, "/support/tickets", custom_field_key="seats", custom_field_value="5"
    ) == [full["id"]]
    assert (
        await ids(
            client, tenant, "/support/tickets", custom_field_key="tier", custom_field_value="silver"
        )
        == []
    )
    assert await ids(client, tenant, "/support/tickets", query="password", status="new") == [
        plain["id"]
    ]
    assert await ids(client, tenant, "/support/tickets", query="printer", status="new") == []
    assert await ids(
        client, tenant, "/support/tickets", query="printer", queue_id=queue["id"], status="pending"
    ) == [full["id"]]
    page = await client.get(API + "/support/tickets", params={"limit": 1}, headers=tenant.headers)
    nxt = page.json()["next_cursor"]
    assert await ids(client, tenant, "/support/tickets", limit=1, cursor=nxt) == [both[1]]
    r = await client.get(
        API + "/support/tickets", params={"status": "stuck"}, headers=tenant.headers
    )
    assert r.status_code == 400
    # updates reach the search text and custom fields merge
    r = await patch(
        client,
        tenant,
        f"/support/tickets/{plain['id']}",
        {"subject": "Two-factor reset", "custom_fields": {"tier": "silver"}},
    )
    assert r.status_code == 200
    assert await ids(client, tenant, "/support/tickets", query="two factor") == [plain["id"]]
    assert await ids(client, tenant, "/support/tickets", query="password") == []
    r = await patch(
        client,
        tenant,
        f"/support/tickets/{full['id']}",
        {"custom_fields": {"tier": None}, "assignee_id": None},
    )
    data = r.json()["data"]
    assert data["custom_fields"] == {"seats": 5} and "assignee_id" not in data


async def test_sla_first_response_timing(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow() - timedelta(hours=5)
    clk = Clock(monkeypatch, start)
    queue = await created(
        client,
        tenant,
        "/support/queues",
        {"key": "priority", "name": "Priority", "first_response_target_minutes": 120},
    )
    slow = await created(
        client,
        tenant,
        "/support/queues",
        {"key": "slow", "name": "Slow", "first_response_target_minutes": 240},
    )
    on_time = await created(
        client, tenant, "/support/tickets", {"subject": "A", "queue_id": queue["id"]}
    )
    late = await created(
        client, tenant, "/support/tickets", {"subject": "B", "queue_id": queue["id"]}
    )
    silent = await created(
        client, tenant, "/support/tickets", {"subject": "C", "queue_id": queue["id"]}
    )
    moved = await created(
        client, tenant, "/support/tickets", {"subject": "D", "queue_id": queue["id"]}
    )
    no_sla = await created(client, tenant, "/support/tickets", {"subject": "E"})
    due = datetime.fromisoformat(on_time["first_response_due_at"])
    assert due - datetime.fromisoformat(on_time["created_at"]) == timedelta(minutes=120)
    assert "first_response_due_at" not in no_sla
    # one minute before the deadline nothing is breached
    clk.at = due - timedelta(minutes=1)
    assert await ids(client, tenant, "/support/tickets", breached="true") == []
    await created(client, tenant, f"/support/tickets/{on_time['id']}/messages", {"body": "On it"})
    r = await patch(client, tenant, f"/support/tickets/{moved['id']}", {"queue_id": slow["id"]})
    moved_due = datetime.fromisoformat(r.json()["data"]["first_response_due_at"])
    assert moved_due == due + timedelta(minutes=120)
    # deadline passed: the filter sees it before any worker ran
    clk.at = due + timedelta(minutes=1)
    assert await ids(client, tenant, "/support/tickets", breached="true") == [
        silent["id"],
        late["id"],
    ]
    assert set(await ids(client, tenant, "/support/tickets", breached="false")) == {
        on_time["id"],
        moved["id"],
        no_sla["id"],
    }
    # a late first reply breaches at once
    await created(client, tenant, f"/support/tickets/{late['id']}/messages", {"body": "Sorry!"})
    breaches = await events(runtime, tenant.workspace_id, "ticket.sla_breached")
    assert [e["id"] for e in breaches] == [late["id"]]
    assert breaches[0]["sla_breached_at"].startswith(due.isoformat()[:19])
    # the worker's checks: the real clock says due (all deadlines lie in the past)
    for _ in range(3):
        for job in await claim(runtime.db, SLA_QUEUE, worker_id="w", lease_seconds=30, limit=10):
            await check_breach(runtime, job)
    breaches = await events(runtime, tenant.workspace_id, "ticket.sla_breached")
    assert [e["id"] for e in breaches] == [late["id"], silent["id"]]
    async with owner_session(runtime) as session:
        checks = {
            c.ticket_id: c
            for c in (
                await session.execute(
                    select(SupportSlaCheck).where(
                        SupportSlaCheck.workspace_id == tenant.workspace_id
                    )
                )
            ).scalars()
        }
        silent_row = await session.get(SupportTicket, (tenant.workspace_id, silent["id"]))
    assert silent_row is not None and silent_row.sla_breached_at == due
    assert set(checks) == {on_time["id"], late["id"], silent["id"], moved["id"]}
    assert {checks[t["id"]].status for t in (on_time, late, silent)} == {"done"}
    # the moved ticket is not due yet by the support clock: its check waits for its deadline
    assert checks[moved["id"]].status == "pending"
    assert checks[moved["id"]].run_after == moved_due
    clk.at = moved_due + timedelta(seconds=1)
    for job in await claim(runtime.db, SLA_QUEUE, worker_id="w", lease_seconds=30, limit=10):
        await check_breach(runtime, job)
    breaches = await events(runtime, tenant.workspace_id, "ticket.sla_breached")
    assert [e["id"] for e in breaches][-1] == moved["id"] and len(breaches) == 3
    # nothing left to claim; replies after the breach add no second event
    assert await claim(runtime.db, SLA_QUEUE, worker_id="w", lease_seconds=30, limit=10) == []
    await created(client, tenant, f"/support/tickets/{silent['id']}/messages", {"body": "Late"})
    assert len(await events(runtime, tenant.workspace_id, "ticket.sla_breached")) == 3
    assert sorted(await ids(client, tenant, "/support/tickets", breached="true")) == sorted(
        [late["id"], silent["id"], moved["id"]]
    )


async def test_worker_check_refuses_a_lost_lease(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, utcnow() - timedelta(hours=3))
    queue = await created(
        client,
        tenant,
        "/support/queues",
        {"key": "p", "name": "P", "first_response_target_minutes": 60},
    )
    await created(client, tenant, "/support/tickets", {"subject": "A", "queue_id": queue["id"]})
    monkeypatch.setattr(clock, "now", utcnow)
    [job] = await claim(runtime.db, SLA_QUEUE, worker_id="first", lease_seconds=0, limit=1)
    [stolen] = await claim(runtime.db, SLA_QUEUE, worker_id="second", lease_seconds=30, limit=1)
    await check_breach(runtime, job)  # its lease is gone: does nothing
    assert await events(runtime, tenant.workspace_id, "ticket.sla_breached") == []
    await check_breach(runtime, stolen)
    assert len(await events(runtime, tenant.workspace_id, "ticket.sla_breached")) == 1


async def test_erasing_a_contact_reaches_its_tickets(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    contact = await created(client, tenant, "/contacts", {"name": "Jane", "email": "jane@x.test"})
    ticket = await created(
        client,
        tenant,
        "/support/tickets",
        {
            "subject": "Jane's card 4242 declined",
            "description": "Jane lives at 1 Main St",
            "contact_id": contact["id"],
            "custom_fields": {"phone": "555"},
        },
    )
    other = await created(client, tenant, "/support/tickets", {"subject": "Unrelated"})
    path = f"/support/tickets/{ticket['id']}"
    msg = await created(
        client,
        tenant,
        path + "/messages",
        {"direction": "inbound", "body": "My number is 555", "author_id": "jane"},
    )
    await created(client, tenant, path + "/comments", {"body": "Jane is upset"})
    r = await client.delete(f"{API}/contacts/{contact['id']}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    got = (await client.get(API + path, headers=tenant.headers)).json()["data"]
    assert got["subject"] == "(erased)" and "description" not in got and got["custom_fields"] == {}
    thread = (await client.get(API + path + "/messages", headers=tenant.headers)).json()["data"]
    assert [m["body"] for m in thread] == ["(erased)"] and "author_id" not in thread[0]
    notes = (await client.get(API + path + "/comments", headers=tenant.headers)).json()["data"]
    assert [c["body"] for c in notes] == ["(erased)"]
    assert await ids(client, tenant, "/support/tickets", query="declined") == []
    created_events = await events(runtime, tenant.workspace_id, "ticket.created")
    assert {"id": ticket["id"], "erased": True} in created_events
    assert any(e.get("subject") == "Unrelated" and e["id"] == other["id"] for e in created_events)
    added = await events(runtime, tenant.workspace_id, "ticket.message_added")
    assert added == [{"id": msg["id"], "erased": True}]


async def test_agent_workflow_over_mcp(runtime: Runtime, tenant: Tenant) -> None:
    """The support toolset: open, search, reassign, reply, comment; a reply to a closed
    ticket is a tool error carrying ticket_closed."""
    from tests.mcp_server.helpers import mcp_caller, memory_client

    async with memory_client(runtime, tenant.token) as client:
        call = mcp_caller(client)
        ticket = await call("create_support_ticket", {"subject": "Export is blank"})
        assert ticket["source"] == "mcp" and ticket["status"] == "new"
        found = await call("search_support_tickets", {"query": "export blank", "status": "new"})
        assert [t["id"] for t in found] == [ticket["id"]]
        changed = await call(
            "update_support_ticket",
            {"ticket_id": ticket["id"], "priority": "urgent", "assignee_id": "agent-claude"},
        )
        assert (changed["priority"], changed["assignee_id"]) == ("urgent", "agent-claude")
        reply = await call(
            "add_support_ticket_message", {"ticket_id": ticket["id"], "body": "Fixed"}
        )
        assert (reply["direction"], reply["channel"]) == ("outbound", "mcp")
        await call(
            "add_support_ticket_comment", {"ticket_id": ticket["id"], "body": "Root cause: X"}
        )
        await call("update_support_ticket", {"ticket_id": ticket["id"], "status": "closed"})
        result = await client.call_tool(
            "add_support_ticket_message", {"ticket_id": ticket["id"], "body": "One more thing"}
        )
        assert result.is_error and "ticket_closed" in result.content[0].text  # type: ignore[union-attr]
