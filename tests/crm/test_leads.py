"""Leads: filters, custom fields and atomic conversion."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.crm.helpers import count, created, events, get, patch, post
from tests.factories import Tenant


async def test_convert_creates_contact_company_and_deal(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    lead = await created(
        client,
        tenant,
        "/leads",
        {"name": "Priya Shah", "email": "priya@northstar.test", "company_name": "Northstar"},
    )
    assert lead["status"] == "new" and lead["source"] == "api"
    r = await post(
        client,
        tenant,
        f"/leads/{lead['id']}/convert",
        {"create_deal": True, "deal_name": "Redesign", "amount_cents": 500000, "stage": "proposal"},
    )
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["status"] == "converted" and out["converted_at"]
    assert out["contact"]["email"] == "priya@northstar.test"
    assert out["company"]["name"] == "Northstar"
    assert out["contact"]["company_id"] == out["company"]["id"]
    assert out["deal"]["stage"] == "proposal" and out["deal"]["amount_cents"] == 500000
    assert out["deal"]["lead_id"] == lead["id"]
    assert out["converted_deal_id"] == out["deal"]["id"]
    ws = tenant.workspace_id
    assert await count(runtime, "contacts", ws) == 1
    assert await count(runtime, "companies", ws) == 1
    assert await count(runtime, "deals", ws) == 1
    assert len(await events(runtime, ws, "lead.converted")) == 1

    again = await post(client, tenant, f"/leads/{lead['id']}/convert", {})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "lead_already_converted"
    assert await count(runtime, "contacts", ws) == 1


async def test_convert_links_existing_records(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    company = await created(client, tenant, "/companies", {"name": "Acme"})
    contact = await created(client, tenant, "/contacts", {"name": "Jane"})
    lead = await created(client, tenant, "/leads", {"name": "Jane", "company_name": "Acme"})
    r = await post(client, tenant, f"/leads/{lead['id']}/convert", {"contact_id": contact["id"]})
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["contact"]["id"] == contact["id"]
    assert out["company"]["id"] == company["id"]  # linked by exact name, not duplicated
    assert "deal" not in out
    assert await count(runtime, "companies", tenant.workspace_id) == 1
    assert await count(runtime, "contacts", tenant.workspace_id) == 1


async def test_failed_conversion_rolls_everything_back(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    lead = await created(client, tenant, "/leads", {"name": "Ola", "company_name": "Fjord AS"})
    ws = tenant.workspace_id
    events_before = await count(runtime, "domain_events", ws)
    r = await post(
        client, tenant, f"/leads/{lead['id']}/convert", {"create_deal": True, "stage": "nope"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "deal_stage_not_found"
    for table in ("contacts", "companies", "deals"):
        assert await count(runtime, table, ws) == 0, table
    assert await count(runtime, "domain_events", ws) == events_before
    fetched = (await get(client, tenant, f"/leads/{lead['id']}")).json()["data"]
    assert fetched["status"] == "new" and "converted_at" not in fetched


async def test_lead_filters_and_custom_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a = await created(
        client,
        tenant,
        "/leads",
        {"name": "A", "source": "website", "custom_fields": {"plan": "gold", "seats": 5}},
    )
    b = await created(client, tenant, "/leads", {"name": "B", "status": "working"})
    bad = await post(client, tenant, "/leads", {"name": "C", "custom_fields": {"x": [1]}})
    assert bad.status_code == 400
    bad = await post(client, tenant, "/leads", {"name": "C", "status": "converted"})
    assert bad.status_code == 400

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["data"]]

    assert ids(await get(client, tenant, "/leads", status="working")) == [b["id"]]
    assert ids(await get(client, tenant, "/leads", source="website")) == [a["id"]]
    assert ids(await get(client, tenant, "/leads", custom_field_key="plan")) == [a["id"]]
    key_value = await get(
        client, tenant, "/leads", custom_field_key="plan", custom_field_value="gold"
    )
    assert ids(key_value) == [a["id"]]
    assert ids(
        await get(client, tenant, "/leads", custom_field_key="seats", custom_field_value="5")
    ) == [a["id"]]
    assert (
        ids(await get(client, tenant, "/leads", custom_field_key="plan", custom_field_value="x"))
        == []
    )
    assert (await get(client, tenant, "/leads", status="bogus")).status_code == 400

    r = await patch(
        client, tenant, f"/leads/{a['id']}", {"custom_fields": {"plan": None, "tier": 2}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["custom_fields"] == {"seats": 5, "tier": 2}
    r = await patch(client, tenant, f"/leads/{a['id']}", {"status": "converted"})
    assert r.status_code == 400
