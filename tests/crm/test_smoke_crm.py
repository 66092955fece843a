from __future__ import annotations

import httpx

from tests.factories import Tenant

API = "/api/v1"


async def test_contact_roundtrip(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.headers
    r = await client.post(f"{API}/companies", json={"name": "Acme Corp"}, headers=h)
    assert r.status_code == 201, r.text
    com = r.json()["data"]["id"]
    r = await client.post(
        f"{API}/contacts",
        json={"name": "Jane Doe", "email": "jane@acme.test", "company_id": com},
        headers=h,
    )
    assert r.status_code == 201, r.text
    con = r.json()["data"]
    assert con["company_name"] == "Acme Corp"
    r = await client.get(f"{API}/contacts", params={"query": "jan"}, headers=h)
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["data"]] == [con["id"]]
