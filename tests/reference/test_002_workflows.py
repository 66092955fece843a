"""002 (the workflow engine): the documented recipe saves and runs as written; a custom
event needs no registration (matched_endpoints 0 until someone subscribes)."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.factories import Tenant
from tests.reference.conftest import API, post
from tests.workflows.helpers import running_worker, wait_finished

RECIPE = """{
  "steps": [
    { "type": "log", "message": "Kicking off Spring Promo" },
    { "type": "delay", "seconds": 2 },
    {
      "type": "fire_webhook_event",
      "event": "campaign.kickoff",
      "payload": { "campaign": "spring-2026", "owner": "marketing" }
    }
  ]
}"""


async def _run(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant) -> dict:  # type: ignore[type-arg]
    body = '{"name": "Spring Promo kickoff", "recipe": ' + RECIPE + "}"
    r = await client.post(
        f"{API}/workflows",
        content=body.encode(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    run = await post(
        client, tenant, f"/workflows/{r.json()['data']['id']}/runs",
        {"input": {"campaign": "Spring Promo"}},
    )  # fmt: skip
    assert run["status"] == "queued"
    async with running_worker(runtime):
        await wait_finished(runtime, tenant.workspace_id, [run["id"]])
    got = await client.get(f"{API}/workflow-runs/{run['id']}", headers=tenant.headers)
    return got.json()["data"]  # type: ignore[no-any-return]


async def test_documented_recipe_runs_without_registering_its_event(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    run = await _run(client, runtime, tenant)
    assert run["status"] == "succeeded", run
    assert [s["type"] for s in run["steps"]] == ["log", "delay", "fire_webhook_event"]
    assert run["steps"][2]["output"]["matched_endpoints"] == 0


async def test_an_endpoint_subscribes_to_the_custom_event_unregistered(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    await post(
        client, tenant, "/webhooks",
        {"name": "Slack", "url": "https://example.com/hook", "event_types": ["campaign.kickoff"]},
    )  # fmt: skip
    run = await _run(client, runtime, tenant)
    assert run["steps"][2]["output"]["matched_endpoints"] == 1


async def test_step_types_are_checked_when_the_recipe_is_saved(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for recipe, code in (
        ({"steps": [{"type": "shell", "command": "ls"}]}, "step_type_not_allowed"),
        ({"steps": [{"type": "log", "message": "x"}] * 51}, "recipe_too_large"),
        ({"steps": [{"type": "fire_webhook_event", "event": "Bad Name"}]}, None),
    ):
        r = await client.post(
            f"{API}/workflows", json={"name": "x", "recipe": recipe}, headers=tenant.headers
        )
        assert r.status_code in (400, 422), r.text
        if code:
            assert r.json()["error"]["code"] == code
