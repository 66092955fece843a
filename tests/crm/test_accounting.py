"""The chart of accounts and journal entries (core/crm/accounting.py)."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.crm.helpers import count, created, get, post
from tests.factories import Tenant


async def test_journal_entries_must_balance(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    cash = await created(
        client, tenant, "/accounting/accounts", {"code": "1000", "name": "Cash", "type": "asset"}
    )
    rev = await created(
        client,
        tenant,
        "/accounting/accounts",
        {"code": "4000", "name": "Services revenue", "type": "revenue"},
    )
    dup = await post(
        client, tenant, "/accounting/accounts", {"code": "1000", "name": "x", "type": "asset"}
    )
    assert dup.status_code == 409
    unbalanced = {
        "status": "posted",
        "lines": [
            {"account_id": cash["id"], "debit_cents": 10_000},
            {"account_id": rev["id"], "credit_cents": 9_000},
        ],
    }
    r = await post(client, tenant, "/accounting/journal-entries", unbalanced)
    assert r.status_code == 422 and r.json()["error"]["code"] == "journal_unbalanced"
    assert await count(runtime, "journal_entries", tenant.workspace_id) == 0
    assert await count(runtime, "journal_lines", tenant.workspace_id) == 0
    draft = await post(
        client, tenant, "/accounting/journal-entries", {**unbalanced, "status": "draft"}
    )
    assert draft.status_code == 201, draft.text
    unbalanced["lines"][1]["credit_cents"] = 10_000
    r = await post(client, tenant, "/accounting/journal-entries", unbalanced)
    assert r.status_code == 201, r.text
    entry = r.json()["data"]
    assert entry["total_debit_cents"] == entry["total_credit_cents"] == 10_000
    assert entry["posted_at"] and len(entry["lines"]) == 2
    missing = await post(
        client,
        tenant,
        "/accounting/journal-entries",
        {"lines": [{"account_id": "acct_01jd00000000000000000000zz", "debit_cents": 1}]},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "accounting_account_not_found"
    both = await post(
        client,
        tenant,
        "/accounting/journal-entries",
        {"lines": [{"account_id": cash["id"], "debit_cents": 1, "credit_cents": 1}]},
    )
    assert both.status_code == 400
    posted = await get(client, tenant, "/accounting/journal-entries", status="posted")
    assert [e["id"] for e in posted.json()["data"]] == [entry["id"]]
    assert posted.json()["data"][0]["lines"][0]["account_id"] == cash["id"]
    revenue = await get(client, tenant, "/accounting/accounts", type="revenue")
    assert [a["id"] for a in revenue.json()["data"]] == [rev["id"]]
