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
    assert [e["id"] for e in await events(runtime, tenant.workspace_id, "task.completed")] == [
        task["id"]
    ]

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
    [("create", "title"), ("create", "assignee"), ("update", "title"), ("list", "assignee")],
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
