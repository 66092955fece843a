"""The plan table of SPEC §1 and how plans gate channels and token counts."""

from __future__ import annotations

import httpx
import pytest

from core.errors import TokenLimitReached, ValidationFailed
from core.gateway import call_operation
from core.operations import Channel
from core.runtime import Runtime
from core.workspaces import service as workspaces
from core.workspaces.plans import PLANS, PlanName, plan_for
from tests.factories import make_tenant, make_token, owner_session

# plan: REST, MCP, workflows, runs per day (None = unlimited), crawl pages, active tokens
SPEC_TABLE = {
    "starter": (False, True, False, 0, 25, 5),
    "growth": (False, True, True, 100, 100, 5),
    "pro": (True, True, True, 1_000, 500, 5),
    "custom": (True, True, True, None, 5_000, 25),
}


@pytest.mark.parametrize("name", list(SPEC_TABLE))
def test_plan_table_matches_spec(name: str) -> None:
    plan = plan_for(name)
    assert plan.name == name
    assert (
        plan.rest_api,
        plan.mcp,
        plan.workflows,
        plan.daily_workflow_runs,
        plan.crawl_pages_per_crawl,
        plan.active_tokens,
    ) == SPEC_TABLE[name]
    assert plan.allows_feature("workflows") is SPEC_TABLE[name][2]
    assert plan.allows_feature("rest_api") is SPEC_TABLE[name][0]


def test_exactly_the_four_plans() -> None:
    assert set(PLANS) == {PlanName(n) for n in SPEC_TABLE}
    with pytest.raises((KeyError, ValueError)):
        plan_for("enterprise")


async def test_unknown_plan_is_rejected(runtime: Runtime) -> None:
    async with owner_session(runtime) as session:
        with pytest.raises(ValidationFailed) as info:
            await workspaces.create_workspace(session, "X", "enterprise")
    assert "enterprise" in info.value.message


@pytest.mark.parametrize("plan", list(SPEC_TABLE))
async def test_mcp_is_open_to_every_plan(runtime: Runtime, plan: str) -> None:
    t = await make_tenant(runtime, name=plan, plan=plan)
    get_me = runtime.registry.get("get_me")
    assert get_me is not None
    outcome = await call_operation(
        runtime, get_me, credentials=t.token, channel=Channel.mcp, arguments={}
    )
    assert outcome.status == 200, outcome.body
    assert outcome.body["data"]["plan"]["name"] == plan


async def test_plan_change_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    t = await make_tenant(runtime, name="Upgrader", plan="starter")
    r = await client.get("/api/v1/me", headers=t.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "tier_not_entitled"
    async with owner_session(runtime) as session:
        await workspaces.set_plan(session, t.workspace_id, "pro")
    assert (await client.get("/api/v1/me", headers=t.headers)).status_code == 200
    async with owner_session(runtime) as session:
        await workspaces.set_plan(session, t.workspace_id, "growth")
    r = await client.get("/api/v1/me", headers=t.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "tier_not_entitled"


async def test_downgrade_keeps_tokens_but_blocks_new_ones(runtime: Runtime) -> None:
    t = await make_tenant(runtime, name="Shrinking", plan="custom")
    for _ in range(9):
        await make_token(runtime, t.workspace_id)
    async with owner_session(runtime) as session:
        await workspaces.set_plan(session, t.workspace_id, "pro")
    with pytest.raises(TokenLimitReached):
        await make_token(runtime, t.workspace_id)
    get_me = runtime.registry.get("get_me")
    assert get_me is not None
    outcome = await call_operation(
        runtime, get_me, credentials=t.token, channel=Channel.rest, arguments={}
    )
    assert outcome.status == 200
