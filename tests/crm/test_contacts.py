"""Contacts and companies (core/crm/service.py, repository.py): erasure, links, indexed
search on both engines, keyset pagination."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from core.crm.models import Contact
from core.runtime import Runtime
from core.search import text_search
from patchbay.domains import platform
from tests.crm.helpers import created, events, get, patch
from tests.factories import Tenant, owner_session

API = "/api/v1"


async def test_erasure_removes_personal_fields_and_keeps_stub(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    company = await created(client, tenant, "/companies", {"name": "Acme"})
    contact = await created(
        client,
        tenant,
        "/contacts",
        {
            "name": "Jane Doe",
            "email": "jane@acme.test",
            "phone": "+1 555",
            "title": "CTO",
            "notes": "likes tea",
            "company_id": company["id"],
        },
    )
    r = await client.delete(f"{API}/contacts/{contact['id']}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    stub = r.json()["data"]
    assert stub["id"] == contact["id"] and stub["erased_at"]
    for field in ("name", "email", "phone", "title", "notes"):
        assert field not in stub
    assert stub["company_id"] == company["id"]
    async with owner_session(runtime) as s:
        row = (
            (await s.execute(sa.text("SELECT * FROM contacts WHERE id = :i"), {"i": contact["id"]}))
            .mappings()
            .one()
        )
    assert row["name"] is None and row["email"] is None and row["notes"] is None
    assert row["phone"] is None and row["search_text"] == ""
    erased = await events(runtime, tenant.workspace_id, "contact.erased")
    assert len(erased) == 1 and "email" not in erased[0]
    # Audited with the resource id.
    audit = await get(client, tenant, "/audit", operation="erase_contact")
    assert audit.json()["data"][0]["resource_id"] == contact["id"]
    # Search no longer finds it; updating is refused; erasing again is harmless.
    found = await get(client, tenant, "/contacts", query="jane")
    assert found.json()["data"] == []
    r = await patch(client, tenant, f"/contacts/{contact['id']}", {"name": "X"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "contact_erased"
    r = await client.delete(f"{API}/contacts/{contact['id']}", headers=tenant.headers)
    assert r.status_code == 200
    assert len(await events(runtime, tenant.workspace_id, "contact.erased")) == 1


async def test_erasure_scrubs_every_copy_of_the_person(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """The lead the contact came from, the events that described both, their webhook
    deliveries and stored idempotent replays: nothing keeps the person's data. Other
    people's records are untouched."""
    from core.events.models import DomainEvent
    from core.idempotency_models import IdempotencyRecord
    from core.webhooks.models import WebhookDelivery

    hook = await client.post(
        f"{API}/webhooks",
        headers=tenant.headers,
        json={"name": "h", "url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
    )
    assert hook.status_code == 201, hook.text
    keyed = {**tenant.headers, "Idempotency-Key": "lead-1"}
    lead = await client.post(
        f"{API}/leads", headers=keyed, json={"name": "Jane Doe", "email": "jane@acme.test"}
    )
    assert lead.status_code == 201, lead.text
    converted = await client.post(
        f"{API}/leads/{lead.json()['data']['id']}/convert", headers=tenant.headers, json={}
    )
    assert converted.status_code == 200, converted.text
    contact_id = converted.json()["data"]["contact"]["id"]
    await patch(client, tenant, f"/contacts/{contact_id}", {"notes": "jane likes tea"})
    other = await created(client, tenant, "/contacts", {"name": "Bob Roe", "email": "bob@x.test"})

    r = await client.delete(f"{API}/contacts/{contact_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text

    async with owner_session(runtime) as s:
        events_ = list((await s.execute(sa.select(DomainEvent))).scalars())
        payloads = [d.payload for d in (await s.execute(sa.select(WebhookDelivery))).scalars()]
        replays = [
            r.response_body for r in (await s.execute(sa.select(IdempotencyRecord))).scalars()
        ]
    copies = [e.data for e in events_] + payloads + replays
    for copy in copies:
        assert "jane" not in str(copy).lower(), copy
    assert any("bob@x.test" in str(copy) for copy in copies)  # others keep theirs
    assert len(payloads) == len(events_)  # every event reached the "*" endpoint
    lead_now = await get(client, tenant, f"/leads/{lead.json()['data']['id']}")
    assert lead_now.json()["data"]["name"] == "(erased)"
    assert "email" not in lead_now.json()["data"]
    replay = await client.post(
        f"{API}/leads", headers=keyed, json={"name": "Jane Doe", "email": "jane@acme.test"}
    )
    assert replay.json()["data"] == {"id": lead.json()["data"]["id"], "erased": True}
    assert (await get(client, tenant, f"/contacts/{other['id']}")).json()["data"][
        "name"
    ] == "Bob Roe"


async def test_erasure_reaches_linked_tasks_and_activities(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """Tasks and activities linked to the erased contact (or to the lead it came from)
    lose their text, and so do their task.* / activity.logged events, deliveries and
    replays; records linked to someone else keep theirs (issue 14)."""
    from core.events.models import DomainEvent
    from core.idempotency_models import IdempotencyRecord
    from core.webhooks.models import WebhookDelivery

    hook = await client.post(
        f"{API}/webhooks",
        headers=tenant.headers,
        json={"name": "h", "url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
    )
    assert hook.status_code == 201, hook.text
    lead = await created(client, tenant, "/leads", {"name": "Jane Doe"})
    converted = await client.post(
        f"{API}/leads/{lead['id']}/convert", headers=tenant.headers, json={}
    )
    jane = converted.json()["data"]["contact"]["id"]
    bob = (await created(client, tenant, "/contacts", {"name": "Bob Roe"}))["id"]
    keyed = {**tenant.headers, "Idempotency-Key": "task-1"}
    task = await client.post(
        f"{API}/tasks",
        headers=keyed,
        json={
            "title": "Call Jane about her divorce",
            "description": "Jane's cell is +1 555 0100",
            "related_type": "contact",
            "related_id": jane,
        },
    )
    assert task.status_code == 201, task.text
    done = await patch(
        client,
        tenant,
        f"/tasks/{task.json()['data']['id']}",
        {"status": "done", "completion_note": "Jane agreed"},
    )
    assert done.status_code == 200, done.text
    lead_task = await created(
        client,
        tenant,
        "/tasks",
        {"title": "Qualify Jane", "related_type": "lead", "related_id": lead["id"]},
    )
    note = await created(
        client,
        tenant,
        "/activities",
        {
            "type": "call",
            "summary": "Jane called back",
            "body": "Jane mentioned her health",
            "related_type": "contact",
            "related_id": jane,
        },
    )
    kept = await created(
        client,
        tenant,
        "/activities",
        {"type": "note", "summary": "Bob likes jazz", "related_type": "contact", "related_id": bob},
    )

    r = await client.delete(f"{API}/contacts/{jane}", headers=tenant.headers)
    assert r.status_code == 200, r.text

    for task_id in (task.json()["data"]["id"], lead_task["id"]):
        got = (await get(client, tenant, f"/tasks/{task_id}")).json()["data"]
        assert got["title"] == "(erased)" and "description" not in got, got
        assert "completed_note" not in got
    listed = (await get(client, tenant, "/activities")).json()["data"]
    by_id = {a["id"]: a for a in listed}
    assert by_id[note["id"]]["summary"] == "(erased)" and "body" not in by_id[note["id"]]
    assert by_id[note["id"]]["related_resource_id"] == jane  # the link to the stub stays
    assert by_id[kept["id"]]["summary"] == "Bob likes jazz"
    found = await get(client, tenant, "/activities", query="jane")
    assert found.json()["data"] == []
    async with owner_session(runtime) as s:
        copies = [e.data for e in (await s.execute(sa.select(DomainEvent))).scalars()]
        copies += [d.payload for d in (await s.execute(sa.select(WebhookDelivery))).scalars()]
        copies += [
            i.response_body for i in (await s.execute(sa.select(IdempotencyRecord))).scalars()
        ]
    for copy in copies:
        assert "jane" not in str(copy).lower(), copy
    assert any("Bob likes jazz" in str(copy) for copy in copies)


@pytest.mark.parametrize("company_id", ["com_01m8ta6ft8yrre2er9mds905y8", "\U0010db79\xac"])
async def test_update_to_an_unknown_company_is_404(
    client: httpx.AsyncClient, tenant: Tenant, company_id: str
) -> None:
    """An id of no company answers company_not_found; it was flushed into the foreign key
    first (500), a finding of the stateful contract run (issue 14)."""
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    r = await patch(
        client, tenant, f"/contacts/{contact['id']}", {"title": "CTO", "company_id": company_id}
    )
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "company_not_found"
    got = (await get(client, tenant, f"/contacts/{contact['id']}")).json()["data"]
    assert "title" not in got and "company_id" not in got


async def test_search_by_name_email_company_and_notes(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    jane = await created(
        client, tenant, "/contacts", {"name": "Jane Doe", "email": "jane@acme.test"}
    )
    bob = await created(
        client,
        tenant,
        "/contacts",
        {"name": "Bob Stone", "company_name": "Globex", "notes": "Prefers quarterly invoicing"},
    )

    async def q(text: str) -> list[str]:
        r = await get(client, tenant, "/contacts", query=text)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["data"]]

    assert await q("Jane") == [jane["id"]]
    assert await q("acme") == [jane["id"]]  # email domain
    assert await q("glob") == [bob["id"]]  # company name, prefix
    assert await q("quarterly") == [bob["id"]]  # notes
    assert await q("bob invoicing") == [bob["id"]]  # every word must match
    assert await q("bob acme") == []
    assert await q("zzz") == []
    assert sorted(await q("")) == sorted([jane["id"], bob["id"]])
    # Updates keep the index in sync.
    await patch(client, tenant, f"/contacts/{bob['id']}", {"notes": "monthly"})
    assert await q("quarterly") == []
    assert await q("monthly") == [bob["id"]]
    # Companies search too.
    acme = await created(client, tenant, "/companies", {"name": "Acme", "domain": "acme.test"})
    r = await get(client, tenant, "/companies", query="acme.test")
    assert [c["id"] for c in r.json()["data"]] == [acme["id"]]


async def test_search_combines_with_every_other_filter(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A searched list keeps its other filters and its cursor (PostgreSQL reads it from the
    search view, which must carry every column they name)."""
    acme = await created(client, tenant, "/companies", {"name": "Acme"})
    at_acme = await created(
        client, tenant, "/contacts", {"name": "Jane Roe", "company_id": acme["id"]}
    )
    await created(client, tenant, "/contacts", {"name": "Jane Elsewhere"})
    r = await get(client, tenant, "/contacts", query="jane", company_id=acme["id"])
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["data"]] == [at_acme["id"]]

    hot = await created(
        client, tenant, "/leads",
        {"name": "Jane Lead", "source": "website", "custom_fields": {"tier": "gold"}},
    )
    await created(client, tenant, "/leads", {"name": "Jane Cold", "source": "referral"})
    r = await get(
        client, tenant, "/leads", query="jane", source="website",
        custom_field_key="tier", custom_field_value="gold",
    )
    assert r.status_code == 200, r.text
    assert [lead["id"] for lead in r.json()["data"]] == [hot["id"]]

    r = await get(client, tenant, "/contacts", query="jane", limit=1)
    first = r.json()
    assert len(first["data"]) == 1 and first["next_cursor"]
    r = await get(client, tenant, "/contacts", query="jane", limit=1, cursor=first["next_cursor"])
    assert r.status_code == 200, r.text
    second = r.json()["data"]
    assert len(second) == 1 and second[0]["id"] < first["data"][0]["id"]


async def test_search_uses_the_index(runtime: Runtime, tenant: Tenant) -> None:
    """The query plan goes through the FTS5 table (SQLite) or the trigram index (PostgreSQL,
    under row-level security too)."""
    if not runtime.db.is_sqlite:  # enough rows that a scan of the workspace would cost
        async with runtime.db.session(tenant.workspace_id) as session:
            await session.execute(
                sa.text(
                    "INSERT INTO contacts (workspace_id, id, search_text, created_at, "
                    "updated_at) SELECT :w, 'ct_' || g, md5(g::text), now(), now() "
                    "FROM generate_series(1, 50000) g"
                ),
                {"w": tenant.workspace_id},
            )
        async with owner_session(runtime) as session:
            await session.execute(sa.text("ANALYZE contacts"))
    # as the application runs: its role, bound to the workspace (row-level security on)
    async with runtime.db.session(tenant.workspace_id) as session:
        await session.connection()  # the dialect learns the server's string escaping
        stmt, _ = text_search(
            session, sa.select(Contact.id).where(Contact.workspace_id == tenant.workspace_id),
            Contact, "jane",
        )
        compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
        if runtime.db.is_sqlite:
            assert "contacts_fts MATCH" in str(compiled)
            plan = (await session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
            assert any("contacts_fts VIRTUAL TABLE INDEX" in str(row) for row in plan), plan
        else:
            await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = (await session.execute(sa.text(f"EXPLAIN {compiled}"))).all()
            text = "\n".join(row[0] for row in plan)
            assert "ix_contacts_search_trgm" in text, text


@pytest.mark.parametrize("limit", [7])
async def test_pagination_returns_each_row_once_in_stable_order(
    client: httpx.AsyncClient, tenant: Tenant, limit: int
) -> None:
    made = [
        (await created(client, tenant, "/contacts", {"name": f"Person {i}"}))["id"]
        for i in range(30)
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await get(client, tenant, "/contacts", **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= limit
        seen += [c["id"] for c in body["data"]]
        cursor = body["next_cursor"]
        pages += 1
        if cursor is None:
            break
        assert pages < 10
    assert seen == sorted(made, reverse=True)  # newest first, each once
    assert len(set(seen)) == 30 and pages == 5


CRM_LISTS = [op.path for op in platform().registry if op.module == "crm" and op.paginated]


@pytest.mark.parametrize("cursor", ["garbage", "eyJhZnRlciI6IDF9", "e30"])
async def test_invalid_cursor_is_400(
    client: httpx.AsyncClient, tenant: Tenant, cursor: str
) -> None:
    assert len(CRM_LISTS) == 9
    for path in CRM_LISTS:
        r = await get(client, tenant, path, cursor=cursor)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_cursor"
