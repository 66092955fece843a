"""Fan-out: domain events and enqueue_event become delivery rows, per workspace."""

from __future__ import annotations

import httpx
import pytest

from core.db import WorkspaceId
from core.errors import Unprocessable
from core.events.service import emit
from core.runtime import Runtime
from core.webhooks.fanout import enqueue_event
from tests.domains import suite_platform as platform
from tests.factories import Tenant
from tests.webhooks.conftest import create_endpoint, deliveries

HOOK = "http://127.0.0.1:9/hook"


async def _emit(runtime: Runtime, workspace_id: str, type_: str) -> str:
    async with runtime.db.session(WorkspaceId(workspace_id)) as session:
        event = await emit(session, WorkspaceId(workspace_id), type_, {"id": "x1"})
        return event.id


async def test_domain_events_reach_subscribed_endpoints(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime
) -> None:
    contacts = await create_endpoint(client, tenant, HOOK, ["contact.created"])
    leads = await create_endpoint(client, tenant, HOOK, ["lead.created"])
    everything = await create_endpoint(client, tenant, HOOK, ["*"])
    paused = await create_endpoint(client, tenant, HOOK, ["*"])
    await client.patch(
        f"/api/v1/webhooks/{paused['id']}", json={"status": "paused"}, headers=tenant.headers
    )
    foreign = await create_endpoint(client, other_tenant, HOOK, ["*"])

    event_id = await _emit(runtime, tenant.workspace_id, "contact.created")
    rows = await deliveries(runtime)
    assert sorted(r.endpoint_id for r in rows) == sorted([contacts["id"], everything["id"]])
    assert all(r.event_id == event_id and r.event_type == "contact.created" for r in rows)
    assert all(r.workspace_id == tenant.workspace_id for r in rows)
    assert all(r.status == "pending" and r.payload == {"id": "x1"} for r in rows)
    assert await deliveries(runtime, leads["id"]) == []
    assert await deliveries(runtime, foreign["id"]) == []

    # An event of another workspace only reaches that workspace's endpoints.
    await _emit(runtime, other_tenant.workspace_id, "lead.created")
    assert len(await deliveries(runtime, foreign["id"])) == 1
    assert await deliveries(runtime, leads["id"]) == []
    assert len(await deliveries(runtime, everything["id"])) == 1
    # `*` also receives types outside the catalogue.
    await _emit(runtime, tenant.workspace_id, "something.new")
    assert len(await deliveries(runtime, everything["id"])) == 2
    assert len(await deliveries(runtime, contacts["id"])) == 1


async def test_rolled_back_event_queues_nothing(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    await create_endpoint(client, tenant, HOOK, ["*"])
    with pytest.raises(RuntimeError):
        async with runtime.db.session(tenant.workspace_id) as session:
            await emit(session, tenant.workspace_id, "contact.created", {})
            raise RuntimeError("boom")
    assert await deliveries(runtime) == []


async def test_write_operation_event_produces_delivery(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    if platform().registry.get("create_contact") is None:
        pytest.skip("CRM operations not registered")
    hook = await create_endpoint(client, tenant, HOOK, ["contact.created"])
    r = await client.post(
        "/api/v1/contacts",
        json={"name": "Ada Lovelace", "email": "ada@example.com"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    [row] = await deliveries(runtime, hook["id"])
    assert row.event_type == "contact.created"
    assert row.payload["id"] == r.json()["data"]["id"]


async def test_enqueue_event_counts_and_is_idempotent(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/integrations/events", json={"key": "campaign.kickoff"}, headers=tenant.headers
    )
    assert r.status_code == 201
    a = await create_endpoint(client, tenant, HOOK, ["campaign.kickoff"])
    b = await create_endpoint(client, tenant, HOOK, ["*"])
    await create_endpoint(client, tenant, HOOK, ["contact.created"])
    await create_endpoint(client, other_tenant, HOOK, ["*"])

    async def fire(event_id: str | None, type_: str = "campaign.kickoff") -> int:
        async with runtime.db.session(tenant.workspace_id) as session:
            return await enqueue_event(
                session, tenant.workspace_id, type_, {"campaign": "spring"}, event_id=event_id
            )

    assert await fire("wfr_1:2") == 2
    assert await fire("wfr_1:2") == 2  # repeat: same count, nothing new
    rows = await deliveries(runtime)
    assert sorted(r.endpoint_id for r in rows) == sorted([a["id"], b["id"]])
    assert {r.event_id for r in rows} == {"wfr_1:2"}
    assert await fire("wfr_1:3") == 2
    assert len(await deliveries(runtime)) == 4
    assert await fire(None, "deal.updated") == 1  # built-in types are known too
    assert len(await deliveries(runtime)) == 5

    # A custom event needs no registration: only the '*' endpoint subscribes to it.
    assert await fire("wfr_1:4", "campaign.unknown") == 1
    with pytest.raises(Unprocessable) as info:
        await fire("wfr_1:5", "Not An Event")
    assert info.value.code == "event_type_invalid"
    # A key registered by another workspace is just another custom name here.
    r = await client.post(
        "/api/v1/integrations/events", json={"key": "globex.only"}, headers=other_tenant.headers
    )
    assert await fire("wfr_1:6", "globex.only") == 1
    assert len(await deliveries(runtime)) == 7
