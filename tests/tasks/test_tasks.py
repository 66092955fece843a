"""Tasks: links to records, status changes and their events, filters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.events.models import DomainEvent
from core.runtime import Runtime
from tests.factories import Tenant, owner_session

API = "/api/v1"


async def post(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(API + path, json=body, headers=t.headers)


async def patch(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(API + path, json=body, headers=t.headers)


async def get(client: httpx.AsyncClient, t: Tenant, path: str, **params: Any) -> httpx.Response:
    return await client.get(API + path, params=params, headers=t.headers)


async def created(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await post(client, t, path, body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def events(runtime: Runtime, workspace_id: str, type_: str) -> list[dict[str, Any]]:
    async with owner_session(runtime) as session:
        stmt = select(DomainEvent.data).where(
            DomainEvent.workspace_id == workspace_id, DomainEvent.type == type_
        )
        return list((await session.execute(stmt)).scalars())


async def test_task_lifecycle(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> None:
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    missing = await post(
        client,
        tenant,
        "/tasks",
        {
            "title": "x",
            "related_resource_type": "contact",
            "related_resource_id": "con_01jd00000000000000000000zz",
        },
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "contact_not_found"
    half = await post(client, tenant, "/tasks", {"title": "x", "related_resource_type": "contact"})
    assert half.status_code == 400
    task = await created(
        client,
        tenant,
        "/tasks",
        {
            "title": "Call Jane",
            "assignee_id": "agent-7",
            "related_resource_type": "contact",
            "related_resource_id": contact["id"],
        },
    )
    assert task["status"] == "open" and task["priority"] == "normal"
    assert (task["assignee_id"], task["related_resource_id"]) == ("agent-7", contact["id"])
    other = await created(client, tenant, "/tasks", {"title": "Other", "status": "in_progress"})
    r = await patch(
        client,
        tenant,
        f"/tasks/{task['id']}",
        {"status": "completed", "completed_note": "Booked"},
    )
    assert r.status_code == 200, r.text
    assert "X-API-Deprecation" not in r.headers
    done = r.json()["data"]
    assert done["completed_at"] and done["completed_note"] == "Booked"
    assert len(await events(runtime, tenant.workspace_id, "task.updated")) == 1
    assert [e["id"] for e in await events(runtime, tenant.workspace_id, "task.completed")] == [
        task["id"]
    ]

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["data"]]

    assert ids(await get(client, tenant, "/tasks", status="completed")) == [task["id"]]
    assert ids(await get(client, tenant, "/tasks", status="in_progress")) == [other["id"]]
    assert ids(await get(client, tenant, "/tasks", assignee_id="agent-7")) == [task["id"]]
    linked = await get(
        client,
        tenant,
        "/tasks",
        related_resource_type="contact",
        related_resource_id=contact["id"],
    )
    assert ids(linked) == [task["id"]]
    r = await patch(client, tenant, f"/tasks/{task['id']}", {"status": "canceled"})
    assert r.json()["data"]["status"] == "canceled" and "completed_at" not in r.json()["data"]


async def test_old_names_are_deprecated_aliases(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """The names before the reference API's (related_type, assignee, completion_note,
    status done/cancelled) still work and say so in X-API-Deprecation."""
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    r = await post(
        client,
        tenant,
        "/tasks",
        {
            "title": "Call",
            "assignee": "a-1",
            "related_type": "contact",
            "related_id": contact["id"],
        },
    )
    assert r.status_code == 201, r.text
    note = r.headers["X-API-Deprecation"]
    assert "'related_type' is deprecated, use 'related_resource_type'" in note
    assert "'assignee' is deprecated, use 'assignee_id'" in note
    task = r.json()["data"]
    assert (task["assignee_id"], task["related_resource_type"]) == ("a-1", "contact")
    r = await patch(
        client, tenant, f"/tasks/{task['id']}", {"status": "done", "completion_note": "ok"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "completed"
    assert r.json()["data"]["completed_note"] == "ok"
    assert "status 'done' is deprecated, use 'completed'" in r.headers["X-API-Deprecation"]
    r = await get(client, tenant, "/tasks", status="done", assignee="a-1")
    assert [t["id"] for t in r.json()["data"]] == [task["id"]]
    assert "X-API-Deprecation" in r.headers
    both = await post(client, tenant, "/tasks", {"title": "x", "assignee": "a", "assignee_id": "b"})
    assert both.status_code == 400, both.text
    r = await get(client, tenant, "/tasks", status="completed")
    assert "X-API-Deprecation" not in r.headers


async def test_tasks_filter_by_related_id_alone(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Ids are unique across record types: related_id alone filters, as for activities
    (it was 400, a schema-valid request the document could not describe)."""
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    linked = await created(
        client,
        tenant,
        "/tasks",
        {"title": "Call", "related_resource_type": "contact", "related_resource_id": contact["id"]},
    )
    await created(client, tenant, "/tasks", {"title": "Other"})
    r = await get(client, tenant, "/tasks", related_resource_id=contact["id"])
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["data"]] == [linked["id"]]


async def test_null_title_status_or_priority_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    task = await created(client, tenant, "/tasks", {"title": "Keep", "priority": "high"})
    r = await patch(
        client, tenant, f"/tasks/{task['id']}", {"title": None, "status": None, "priority": None}
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["title"], data["status"], data["priority"]) == ("Keep", "open", "high")


@pytest.mark.parametrize(
    ("method", "field"),
    [("create", "title"), ("create", "assignee_id"), ("update", "title"), ("list", "assignee_id")],
)
async def test_name_like_fields_are_single_lines(
    client: httpx.AsyncClient, tenant: Tenant, method: str, field: str
) -> None:
    """The rule travels with the field's type (``OneLine``), not with a list of names."""
    text = "Call\r\nX-Injected: 1"
    if method == "create":
        r = await post(client, tenant, "/tasks", {"title": "ok", field: text})
    elif method == "update":
        task = await created(client, tenant, "/tasks", {"title": "ok"})
        r = await patch(client, tenant, f"/tasks/{task['id']}", {field: text})
    else:
        r = await get(client, tenant, "/tasks", **{field: text})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error" and f"'{field}'" in error["message"]
    assert "single line" in error["message"]
