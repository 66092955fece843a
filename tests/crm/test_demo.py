"""The CRM demo seeder builds a consistent sample workspace."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from patchbay.demo import SEEDERS
from patchbay.demo.crm import seed_crm
from tests.crm.helpers import count, get
from tests.factories import Tenant


async def test_seed_crm(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> None:
    assert seed_crm in SEEDERS
    async with runtime.db.session(tenant.workspace_id) as session:
        await seed_crm(session, tenant.workspace_id)
    ws = tenant.workspace_id
    assert await count(runtime, "companies", ws) == 4  # 3 + the converted lead's company
    assert await count(runtime, "contacts", ws) == 7
    assert await count(runtime, "leads", ws) == 4
    assert await count(runtime, "deal_stages", ws) == 7  # the default pipeline (6) + discovery
    assert await count(runtime, "deals", ws) == 3
    assert await count(runtime, "tasks", ws) == 3
    found = await get(client, tenant, "/contacts", query="priya")
    assert [c["name"] for c in found.json()["data"]] == ["Priya Raman"]
