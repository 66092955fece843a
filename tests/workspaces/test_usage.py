"""Issue 18: the kernel's usage meters (exact under concurrency), the domains reporting
into them, the billing cycle and ``GET /billing/subscription``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import anyio
import httpx
import pytest

from core import usage
from core.db import utcnow
from core.runtime import Runtime
from core.workspaces.plans import GIB
from tests.factories import Tenant, make_tenant, owner_session
from tests.workflows.helpers import create_workflow, trigger

API = "/api/v1"


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "now", "start", "end"),
    [
        (at(2026, 1, 15, 9), at(2026, 3, 20), at(2026, 3, 15), at(2026, 4, 15)),
        (at(2026, 1, 15, 9), at(2026, 3, 14, 23), at(2026, 2, 15), at(2026, 3, 15)),
        (at(2026, 1, 15, 9), at(2026, 3, 15), at(2026, 3, 15), at(2026, 4, 15)),
        (at(2026, 1, 31), at(2026, 2, 28, 12), at(2026, 2, 28), at(2026, 3, 31)),
        (at(2026, 1, 31), at(2026, 2, 27), at(2026, 1, 31), at(2026, 2, 28)),
        (at(2025, 11, 30), at(2026, 1, 5), at(2025, 12, 30), at(2026, 1, 30)),
        (at(2024, 1, 29), at(2024, 2, 29, 1), at(2024, 2, 29), at(2024, 3, 29)),
    ],
)
def test_cycle_is_monthly_from_the_creation_day(
    created: datetime, now: datetime, start: datetime, end: datetime
) -> None:
    assert usage.cycle_bounds(created, now) == (start, end)


async def test_unknown_meter_is_refused(runtime: Runtime, tenant: Tenant) -> None:
    async with runtime.db.session(tenant.workspace_id) as session:
        with pytest.raises(ValueError, match="unknown meter"):
            await usage.add(session, tenant.workspace_id, "bananas", 1)


async def test_concurrent_adders_are_exact(runtime: Runtime, tenant: Tenant) -> None:
    """40 transactions adding at once (each its own connection): not one increment lost."""
    adders, rounds = 8, 5

    async def adder(n: int) -> None:
        for _ in range(rounds):
            async with runtime.db.session(tenant.workspace_id) as session:
                await usage.add(session, tenant.workspace_id, "ai_tokens", 7)
                await usage.add(session, tenant.workspace_id, "stored_bytes", n)

    async with anyio.create_task_group() as tg:
        for n in range(adders):
            tg.start_soon(adder, n + 1)
    today = utcnow().date()
    async with runtime.db.session(tenant.workspace_id, read_only=True) as session:
        assert await usage.on_day(session, tenant.workspace_id, "ai_tokens", today) == 280
        totals = await usage.totals(session, tenant.workspace_id, today, date.max)
    assert totals["ai_tokens"] == adders * rounds * 7
    assert totals["stored_bytes"] == rounds * sum(range(1, adders + 1))
    assert totals["workflow_runs"] == 0 and totals["crawl_pages"] == 0


async def test_meters_are_per_workspace_and_per_cycle(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    ws = tenant.workspace_id
    async with runtime.db.session(ws) as session:
        await usage.add(session, ws, "crawl_pages", 10, now=at(2026, 3, 14))
        await usage.add(session, ws, "crawl_pages", 5, now=at(2026, 3, 15))
        await usage.add(session, ws, "crawl_pages", 3, now=at(2026, 4, 14, 23))
        await usage.add(session, ws, "stored_bytes", 100, now=at(2026, 1, 1))
        await usage.add(session, ws, "stored_bytes", -40, now=at(2026, 3, 20))
    async with runtime.db.session(other_tenant.workspace_id) as session:
        await usage.add(session, other_tenant.workspace_id, "crawl_pages", 99)
    async with runtime.db.session(ws, read_only=True) as session:
        totals = await usage.totals(session, ws, date(2026, 3, 15), date(2026, 4, 15))
    assert totals["crawl_pages"] == 8  # the 14th of March belongs to the previous cycle
    assert totals["stored_bytes"] == 60  # a level: every day counts


async def test_domains_report_and_billing_shows_limits(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    ws = tenant.workspace_id
    workflow_id = await create_workflow(runtime, ws, {"steps": [{"type": "log", "message": "x"}]})
    await trigger(runtime, ws, workflow_id, count=3, plan="pro")
    hook = await client.post(
        f"{API}/webhooks",
        json={"name": "h", "url": "http://127.0.0.1:9/hook", "event_types": ["contact.created"]},
        headers=tenant.headers,
    )
    assert hook.status_code == 201, hook.text
    for name in ("Ann", "Bob"):
        made = await client.post(f"{API}/contacts", json={"name": name}, headers=tenant.headers)
        assert made.status_code == 201, made.text

    from tests.mcp_server.helpers import memory_client

    async with memory_client(runtime, tenant.token) as mcp:
        result = await mcp.call_tool("get_billing_subscription", {})
    assert not result.is_error, result
    data = result.structured_content["data"]  # type: ignore[index]
    meters = {(m["meter"], m["period"]): m for m in data["meters"]}
    assert data["plan"] == "pro" and data["status"] == "active"
    start, end = (datetime.fromisoformat(data[k]) for k in ("cycle_start", "cycle_end"))
    assert start <= utcnow() < end
    assert meters["workflow_runs", "day"] == {
        "meter": "workflow_runs", "period": "day", "used": 3, "limit": 1000,
    }  # fmt: skip
    assert meters["workflow_runs", "cycle"] == {
        "meter": "workflow_runs", "period": "cycle", "used": 3,
    }  # fmt: skip
    assert meters["deliveries", "cycle"]["used"] == 2
    assert meters["active_tokens", "current"] == {
        "meter": "active_tokens", "period": "current", "used": 1, "limit": 5,
    }  # fmt: skip
    assert meters["stored_bytes", "current"]["limit"] == 100 * GIB
    assert meters["ai_tokens", "cycle"]["used"] == 0
    assert meters["crawl_pages", "cycle"]["used"] == 0
    async with owner_session(runtime) as session:
        from sqlalchemy import func, select

        rows = await session.scalar(
            select(func.count())
            .select_from(usage.UsageDaily)
            .where(usage.UsageDaily.workspace_id == ws)
        )
    assert rows == 2  # one row per meter per day, incremented in place


async def test_unlimited_plan_omits_limits(client: httpx.AsyncClient, runtime: Runtime) -> None:
    custom = await make_tenant(runtime, plan="custom")
    response = await client.get(f"{API}/billing/subscription", headers=custom.headers)
    assert response.status_code == 200, response.text
    meters = {(m["meter"], m["period"]): m for m in response.json()["data"]["meters"]}
    assert "limit" not in meters["workflow_runs", "day"]
    assert "limit" not in meters["stored_bytes", "current"]
    assert meters["active_tokens", "current"]["limit"] == 25
