"""Activities: the timeline, its links to records, search and events."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from core.events.models import DomainEvent
from core.runtime import Runtime
from tests.factories import Tenant, owner_session

API = "/api/v1"


async def post(
    client: httpx.AsyncClient, t: Tenant, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(API + path, json=body, headers=t.headers)


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
    assert call["occurred_at"] == call["created_at"]  # default: now
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


async def test_links_are_checked(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = await post(
        client,
        tenant,
        "/activities",
        {
            "type": "note",
            "summary": "x",
            "related_type": "deal",
            "related_id": "deal_01jd00000000000000000000zz",
        },
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "deal_not_found"
    half = await post(
        client, tenant, "/activities", {"type": "note", "summary": "x", "related_id": "x"}
    )
    assert half.status_code == 400


async def test_summary_is_a_single_line(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """The rule travels with the field's type (``OneLine``), not with a list of names."""
    r = await post(client, tenant, "/activities", {"type": "note", "summary": "a\nb"})
    assert r.status_code == 400, r.text
    assert "'summary'" in r.json()["error"]["message"]
