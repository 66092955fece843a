"""Workflows over MCP with the official client (in memory)."""

from __future__ import annotations

import anyio

from core.runtime import Runtime
from tests.factories import Tenant
from tests.mcp_server.helpers import error_code, memory_client, tool_names
from tests.workflows.helpers import create_workflow, running_worker

RECIPE = {
    "steps": [
        {"type": "log", "message": "Kicking off {{input.campaign}}"},
        {"type": "delay", "seconds": 1},
        {"type": "log", "message": "done"},
    ]
}


async def test_trigger_and_poll_over_mcp(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    wf = await create_workflow(runtime, tenant.workspace_id, RECIPE, name="Kickoff")
    async with memory_client(runtime, tenant.token) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"list_workflows", "trigger_workflow", "list_workflow_runs", "get_workflow_run"} <= (
            await tool_names(client)
        )
        assert "get_workflow_run" in tools["trigger_workflow"].description
        listed = await client.call_tool("list_workflows", {})
        assert [w["id"] for w in listed.structured_content["data"]] == [wf]

        result = await client.call_tool(
            "trigger_workflow", {"workflow_id": wf, "input": {"campaign": "Spring Promo"}}
        )
        assert not result.is_error, result.structured_content
        run = result.structured_content["data"]
        assert run["status"] == "queued" and run["channel"] == "mcp"

        async with running_worker(runtime):
            with anyio.fail_after(30):
                while True:
                    got = await client.call_tool(
                        "get_workflow_run", {"run_id": run["id"], "wait_seconds": 5}
                    )
                    data = got.structured_content["data"]
                    if data["status"] in ("succeeded", "failed"):
                        break
        assert data["status"] == "succeeded"
        assert data["steps"][0]["output"] == {"message": "Kicking off Spring Promo"}
        runs = await client.call_tool("list_workflow_runs", {"workflow_id": wf})
        assert [r["id"] for r in runs.structured_content["data"]] == [run["id"]]

    async with memory_client(runtime, other_tenant.token) as client:
        got = await client.call_tool("get_workflow_run", {"run_id": run["id"]})
        assert error_code(got) == "workflow_run_not_found"
        got = await client.call_tool("trigger_workflow", {"workflow_id": wf})
        assert error_code(got) == "workflow_not_found"
        runs = await client.call_tool("list_workflow_runs", {"workflow_id": wf})
        assert runs.structured_content["data"] == []


async def test_a_pausing_delay_reads_waiting_over_mcp(runtime: Runtime, tenant: Tenant) -> None:
    recipe = {"steps": [{"type": "delay", "seconds": 3}, {"type": "log", "message": "done"}]}
    wf = await create_workflow(runtime, tenant.workspace_id, recipe, name="Pause")
    async with memory_client(runtime, tenant.token) as client:
        result = await client.call_tool("trigger_workflow", {"workflow_id": wf})
        run_id = result.structured_content["data"]["id"]
        async with running_worker(runtime):
            with anyio.fail_after(20):
                while True:
                    got = await client.call_tool("get_workflow_run", {"run_id": run_id})
                    data = got.structured_content["data"]
                    if data["steps"]:
                        break
                    await anyio.sleep(0.05)
            (step,) = data["steps"]
            assert (data["status"], step["status"]) == ("running", "waiting"), data
            assert "finished_at" not in step and step["resume_at"] > step["started_at"]
            with anyio.fail_after(20):
                got = await client.call_tool(
                    "get_workflow_run", {"run_id": run_id, "wait_seconds": 10}
                )
        data = got.structured_content["data"]
        assert data["status"] == "succeeded"
        assert [s["status"] for s in data["steps"]] == ["succeeded", "succeeded"]
        assert data["steps"][0]["finished_at"] >= data["steps"][0]["output"]["resume_at"][:19]
