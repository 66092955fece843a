"""Writes record their domain events (for webhooks), in the write's own transaction."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.crm.helpers import created, events, patch
from tests.factories import Tenant


async def test_lead_created_and_deal_updated_are_recorded(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    lead = await created(client, tenant, "/leads", {"name": "Jane", "source": "website"})
    (lead_event,) = await events(runtime, tenant.workspace_id, "lead.created")
    assert (lead_event["id"], lead_event["source"]) == (lead["id"], "website")

    deal = await created(client, tenant, "/deals", {"name": "Big", "amount_cents": 100})
    r = await patch(client, tenant, f"/deals/{deal['id']}", {"amount_cents": 250})
    assert r.status_code == 200, r.text
    (deal_event,) = await events(runtime, tenant.workspace_id, "deal.updated")
    assert (deal_event["id"], deal_event["amount_cents"]) == (deal["id"], 250)


async def test_a_refused_write_records_no_event(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    deal = await created(client, tenant, "/deals", {"name": "Big"})
    r = await patch(client, tenant, f"/deals/{deal['id']}", {"stage": "no-such-stage"})
    assert r.status_code == 422
    assert await events(runtime, tenant.workspace_id, "deal.updated") == []
