"""Tasks and activities linked to records."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.crm.helpers import created, events, get, patch, post
from tests.factories import Tenant


async def test_task_lifecycle(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> None:
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    missing = await post(
        client,
        tenant,
        "/tasks",
        {"title": "x", "related_type": "contact", "related_id": "con_01jd00000000000000000000zz"},
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "contact_not_found"
    half = await post(client, tenant, "/tasks", {"title": "x", "related_type": "contact"})
    assert half.status_code == 400
    task = await created(
        client,
        tenant,
        "/tasks",
        {
            "title": "Call Jane",
            "assignee": "agent-7",
            "related_type": "contact",
            "related_id": contact["id"],
        },
    )
    assert task["status"] == "open" and task["priority"] == "normal"
    other = await created(client, tenant, "/tasks", {"title": "Other", "status": "in_progress"})
    r = await patch(
        client, tenant, f"/tasks/{task['id']}", {"status": "done", "completion_note": "Booked"}
    )
    assert r.status_code == 200, r.text
    done = r.json()["data"]
    assert done["completed_at"] and done["completion_note"] == "Booked"
    assert len(await events(runtime, tenant.workspace_id, "task.updated")) == 1

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["data"]]

    assert ids(await get(client, tenant, "/tasks", status="done")) == [task["id"]]
    assert ids(await get(client, tenant, "/tasks", status="in_progress")) == [other["id"]]
    assert ids(await get(client, tenant, "/tasks", assignee="agent-7")) == [task["id"]]
    linked = await get(client, tenant, "/tasks", related_type="contact", related_id=contact["id"])
    assert ids(linked) == [task["id"]]
    r = await patch(client, tenant, f"/tasks/{task['id']}", {"status": "open"})
    assert "completed_at" not in r.json()["data"]


async def test_activities_log_and_search(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    deal = await created(client, tenant, "/deals", {"name": "Pilot"})
    call = await created(
        client,
        tenant,
        "/activities",
        {
            "type": "call",
            "summary": "Discussed pricing tiers",
            "body": "Wants annual billing",
            "related_type": "deal",
            "related_id": deal["id"],
        },
    )
    assert call["channel"] == "rest" and call["logged_by"] == "test token"
    note = await created(
        client, tenant, "/activities", {"type": "note", "summary": "Sent brochure"}
    )
    bad = await post(client, tenant, "/activities", {"type": "fax", "summary": "x"})
    assert bad.status_code == 400

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["data"]]

    assert ids(await get(client, tenant, "/activities", query="pricing")) == [call["id"]]
    assert ids(await get(client, tenant, "/activities", query="annual")) == [call["id"]]
    assert ids(await get(client, tenant, "/activities", type="note")) == [note["id"]]
    assert ids(
        await get(client, tenant, "/activities", related_type="deal", related_id=deal["id"])
    ) == [call["id"]]
    assert len(await events(runtime, tenant.workspace_id, "activity.logged")) == 2


async def test_tasks_filter_by_related_id_alone(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Ids are unique across record types: related_id alone filters, as for activities
    (it was 400, a schema-valid request the document could not describe)."""
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    linked = await created(
        client,
        tenant,
        "/tasks",
        {"title": "Call", "related_type": "contact", "related_id": contact["id"]},
    )
    await created(client, tenant, "/tasks", {"title": "Other"})
    r = await get(client, tenant, "/tasks", related_id=contact["id"])
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["data"]] == [linked["id"]]
