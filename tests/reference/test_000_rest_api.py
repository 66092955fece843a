"""000 (the read-mostly REST API): /me, the page-numbered lists, workflows and runs, as
its examples write them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.runtime import Runtime
from tests.factories import Tenant
from tests.reference.conftest import API, Example, post, replay
from tests.workflows.helpers import running_worker, wait_finished

DOC = "000"
RECIPE = {"steps": [{"type": "log", "message": "Kicking off {{input.campaign}}"}]}


@pytest.fixture
async def ids(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """The document's ids: agent 12 (with a lead), conversation 42, workflow 5, run 7."""
    agent = await post(client, tenant, "/agents", {"name": "Site bot"})
    await post(client, tenant, "/leads", {"name": "New lead", "agent_id": agent["id"]})
    conversation = await post(client, tenant, "/conversations", {"agent_id": agent["id"]})
    await post(
        client, tenant, f"/conversations/{conversation['id']}/messages",
        {"author_type": "agent", "body": "Hi! How can I help?"},
    )  # fmt: skip
    workflow = await post(client, tenant, "/workflows", {"name": "Promo", "recipe": RECIPE})
    run = await post(client, tenant, f"/workflows/{workflow['id']}/runs", {"input": {}})
    return {"5": workflow["id"], "7": run["id"], "12": agent["id"], "42": conversation["id"]}


EXAMPLES = [
    Example(DOC, "GET /api/v1/me", "GET", "/me", fields=("tenant", "token"),
            nested={"tenant": ("id", "uuid", "name"),
                    "token": ("name", "abilities", "last_used_at")}),
    Example(DOC, "GET /api/v1/leads", "GET", "/leads", query="status=new&per_page=100",
            fields=("id", "name", "status")),
    Example(DOC, "GET /api/v1/leads?page=1", "GET", "/leads", query="page=1",
            fields=("id", "name")),
    Example(DOC, "GET /api/v1/leads?agent_id=", "GET", "/leads", query="agent_id=12",
            fields=("id", "name", "agent_id")),
    Example(DOC, "GET /api/v1/agents", "GET", "/agents", query="status=active",
            fields=("id", "name", "status", "conversation_count", "leads_captured")),
    Example(DOC, "GET /api/v1/agents/{id}", "GET", "/agents/12", fields=("id", "name", "status")),
    Example(DOC, "GET /api/v1/conversations", "GET", "/conversations", query="status=active",
            fields=("id", "status", "channel", "agent_id")),
    Example(DOC, "GET /api/v1/conversations?agent_id=", "GET", "/conversations",
            query="agent_id=12", fields=("id", "status")),
    Example(DOC, "GET /api/v1/conversations/{id}", "GET", "/conversations/42",
            fields=("id", "status", "message_count")),
    Example(DOC, "GET /api/v1/conversations/{id}/messages", "GET", "/conversations/42/messages",
            fields=("id", "author_type", "body", "created_at")),
    Example(DOC, "GET /api/v1/workflows", "GET", "/workflows", query="status=active",
            fields=("id", "name", "status")),
    Example(DOC, "GET /api/v1/workflows/{id}", "GET", "/workflows/5",
            fields=("id", "name", "status", "recipe")),
    Example(DOC, "GET /api/v1/workflows/{id}/runs", "GET", "/workflows/5/runs",
            fields=("id", "status")),
    Example(DOC, "POST /api/v1/workflows/{id}/runs", "POST", "/workflows/5/runs", status=202,
            body="""{"input": {"campaign": "Spring Promo"}}""", fields=("id", "status")),
    Example(DOC, "GET /api/v1/workflow-runs/{id}", "GET", "/workflow-runs/7",
            fields=("id", "status", "steps")),
]  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
async def test_documented_example_works_unchanged(
    client: httpx.AsyncClient, tenant: Tenant, ids: dict[str, str], example: Example
) -> None:
    await replay(client, tenant, example, ids)


async def test_me_names_the_tenant_and_binds_the_token(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    data = (await client.get(f"{API}/me", headers=tenant.headers)).json()["data"]
    assert data["tenant"]["id"] == tenant.workspace_id
    assert uuid.UUID(data["tenant"]["uuid"]).version == 5
    assert f"tenant:{tenant.workspace_id}" in data["token"]["abilities"]
    assert "api:rest" in data["token"]["abilities"]


async def test_page_numbers_are_a_bounded_offset(client: httpx.AsyncClient, tenant: Tenant) -> None:
    names = [f"L{n}" for n in range(5)]
    for name in names:
        await post(client, tenant, "/leads", {"name": name})

    async def page(query: str) -> httpx.Response:
        return await client.get(f"{API}/leads?{query}", headers=tenant.headers)

    pages = [(await page(f"page={n}&per_page=2")).json() for n in (1, 2, 3)]
    seen = [lead["name"] for p in pages for lead in p["data"]]
    assert seen == list(reversed(names))  # newest first, no gap, no repeat
    assert [p["pagination"]["has_more"] for p in pages] == [True, True, False]
    deep = await page("page=101&per_page=100")
    assert deep.status_code == 400 and deep.json()["error"]["code"] == "page_too_deep"
    assert "cursor" in deep.json()["error"]["message"]
    edge = await page("page=100&per_page=100")  # exactly 10,000: allowed (and empty)
    assert edge.status_code == 200 and edge.json()["data"] == []
    both = await page(f"page=2&cursor={pages[0]['next_cursor']}")
    assert both.status_code == 400


async def test_documented_trigger_runs_with_its_input(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, ids: dict[str, str]
) -> None:
    r = await client.post(
        f"{API}/workflows/{ids['5']}/runs",
        content=b'{"input": {"campaign": "Spring Promo"}}',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 202, r.text
    async with running_worker(runtime):
        await wait_finished(runtime, tenant.workspace_id, [r.json()["data"]["id"]])
    run = await client.get(f"{API}/workflow-runs/{r.json()['data']['id']}", headers=tenant.headers)
    assert run.json()["data"]["status"] == "succeeded"
    assert run.json()["data"]["steps"][0]["output"] == {"message": "Kicking off Spring Promo"}
