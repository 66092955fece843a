"""Deal stages, deals, invoices and payments (core/crm/sales.py)."""

from __future__ import annotations

import anyio
import httpx

from core.runtime import Runtime
from tests.crm.helpers import count, created, get, patch, post
from tests.factories import Tenant


async def test_deal_stage_rules(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    await created(client, tenant, "/deal-stages", {"key": "discovery", "name": "Discovery"})
    dup = await post(client, tenant, "/deal-stages", {"key": "discovery", "name": "Again"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "deal_stage_exists"
    deal = await created(client, tenant, "/deals", {"name": "Pilot", "amount_cents": 100})
    assert deal["stage"] == "discovery" and deal["currency"] == "USD"
    r = await patch(client, tenant, f"/deals/{deal['id']}", {"stage": "signed"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "deal_stage_not_found"
    r = await patch(client, tenant, f"/deals/{deal['id']}", {"amount_cents": -1})
    assert r.status_code == 400
    r = await patch(client, tenant, f"/deals/{deal['id']}", {"currency": "usd"})
    assert r.status_code == 400
    taken = await post(client, tenant, "/deal-stages", {"key": "won", "name": "Won"})
    assert taken.status_code == 409  # the default pipeline has it
    r = await patch(
        client, tenant, f"/deals/{deal['id']}", {"stage": "won", "status": "won", "currency": "EUR"}
    )
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["stage"] == "won" and out["currency"] == "EUR" and out["closed_at"]
    listed = await get(client, tenant, "/deals", stage="won")
    assert [d["id"] for d in listed.json()["data"]] == [deal["id"]]
    assert (await get(client, tenant, "/deals", stage="discovery")).json()["data"] == []


async def _invoice(client: httpx.AsyncClient, tenant: Tenant, number: str = "INV-1") -> dict:
    return await created(
        client,
        tenant,
        "/invoices",
        {
            "invoice_number": number,
            "status": "sent",
            "line_items": [
                {"kind": "service", "name": "Design", "quantity": 3, "unit_amount_cents": 10_000},
                {"kind": "product", "name": "License", "unit_amount_cents": 5_000},
            ],
            "tax_cents": 1_000,
        },
    )


async def test_invoice_totals_and_payments(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    inv = await _invoice(client, tenant)
    assert inv["subtotal_cents"] == 35_000 and inv["total_cents"] == 36_000
    assert inv["balance_cents"] == 36_000 and inv["amount_paid_cents"] == 0
    assert inv["line_items"][0]["amount_cents"] == 30_000
    dup = await post(
        client,
        tenant,
        "/invoices",
        {"invoice_number": "INV-1", "line_items": [{"name": "x", "unit_amount_cents": 1}]},
    )
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "invoice_number_taken"

    r = await post(client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 10_000})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["invoice_status"] == "partially_paid"
    assert r.json()["data"]["invoice_balance_cents"] == 26_000
    over = await post(
        client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 26_001}
    )
    assert over.status_code == 422 and over.json()["error"]["code"] == "payment_exceeds_balance"
    wrong = await post(
        client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 1, "currency": "EUR"}
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "currency_mismatch"
    r = await post(client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 26_000})
    assert r.status_code == 201, r.text
    fetched = (await get(client, tenant, f"/invoices/{inv['id']}")).json()["data"]
    assert fetched["status"] == "paid" and fetched["balance_cents"] == 0
    assert fetched["amount_paid_cents"] == 36_000 and fetched["paid_at"]
    more = await post(client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 1})
    assert more.status_code == 422
    assert await count(runtime, "payments", tenant.workspace_id) == 2
    listed = await get(client, tenant, "/payments", invoice_id=inv["id"])
    assert len(listed.json()["data"]) == 2
    assert [
        i["id"] for i in (await get(client, tenant, "/invoices", status="paid")).json()["data"]
    ] == [inv["id"]]


async def test_concurrent_payments_never_overpay(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    inv = await _invoice(client, tenant)  # 36,000 cents
    statuses: list[int] = []

    async def pay() -> None:
        r = await post(
            client, tenant, "/payments", {"invoice_id": inv["id"], "amount_cents": 10_000}
        )
        statuses.append(r.status_code)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(pay)
    assert statuses.count(201) == 3 and statuses.count(422) == 5, statuses
    fetched = (await get(client, tenant, f"/invoices/{inv['id']}")).json()["data"]
    assert fetched["amount_paid_cents"] == 30_000 and fetched["balance_cents"] == 6_000
    assert await count(runtime, "payments", tenant.workspace_id) == 3


async def test_new_workspace_has_the_default_pipeline_and_stages_stay_editable(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    stages = (await get(client, tenant, "/deal-stages", limit=100)).json()["data"]
    by_position = sorted(stages, key=lambda s: s["position"])
    assert [s["key"] for s in by_position] == [
        "lead", "qualified", "proposal", "negotiation", "won", "lost"
    ]  # fmt: skip
    qualified = next(s for s in stages if s["key"] == "qualified")
    r = await patch(
        client, tenant, f"/deal-stages/{qualified['id']}", {"name": "SQL", "position": 5}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["key"], r.json()["data"]["name"]) == ("qualified", "SQL")
    deal = await created(client, tenant, "/deals", {"name": "Pilot", "stage": "qualified"})
    assert deal["stage"] == "qualified"
    missing = await patch(client, tenant, "/deal-stages/stage_01jd00000000000000000000zz", {})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "stage_not_found"
