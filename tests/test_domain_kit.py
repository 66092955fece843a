"""A domain is a folder plus one line: the toy domain of ``tests/kit/toy`` (test-only,
listed in ``tests/domains.py``) is served over REST and MCP, documented in OpenAPI,
linkable from tasks, in the event catalogue and in both generated matrices — and no
file outside its folder mentions it but that one line.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from jsonschema import Draft202012Validator

from core.runtime import Runtime
from mcp_server.adapter import tool_for
from patchbay.domains import platform
from tests import test_scope_matrix, test_tenant_isolation
from tests.domains import suite_platform
from tests.factories import Tenant
from tests.mcp_server import test_scope_matrix_mcp, test_tenant_isolation_mcp
from tests.mcp_server.helpers import all_tools, memory_client

ROOT = Path(__file__).resolve().parents[1]
TOY_OPERATIONS = {"list_widgets", "create_widget", "get_widget"}


def test_the_toy_is_test_only_and_touches_one_line_outside_its_folder() -> None:
    assert not TOY_OPERATIONS & {op.name for op in platform().registry}
    assert {op.name for op in suite_platform().registry} >= TOY_OPERATIONS
    mentions = [
        path.relative_to(ROOT).as_posix()
        for top in ("core", "rest", "mcp_server", "patchbay", "tests")
        for path in (ROOT / top).rglob("*.py")
        if "tests.kit.toy" in path.read_text()
        and "tests/kit/toy" not in path.as_posix()
        and path.name != "test_domain_kit.py"
    ]
    assert sorted(mentions) == ["tests/domains.py"]


def test_the_generated_matrices_pick_it_up() -> None:
    assert {"create_widget", "list_widgets", "get_widget"} <= {
        op.name for op in test_scope_matrix.SCOPED
    }
    assert {"create_widget", "get_widget"} <= {op.name for op in test_scope_matrix_mcp.SCOPED}
    assert "get_widget" in {op.name for op in test_tenant_isolation.WITH_PATH_IDS}
    assert "list_widgets" in {op.name for op in test_tenant_isolation.LISTS}
    assert "get_widget" in {op.name for op in test_tenant_isolation_mcp.WITH_PATH_IDS}


async def test_rest_openapi_events_and_links(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    created = await client.post(
        "/api/v1/toy/widgets", headers=tenant.headers, json={"name": "Sprocket"}
    )
    assert created.status_code == 201, created.text
    widget = created.json()["data"]
    got = await client.get(f"/api/v1/toy/widgets/{widget['id']}", headers=tenant.headers)
    assert got.json()["data"]["name"] == "Sprocket"
    listed = await client.get("/api/v1/toy/widgets", headers=tenant.headers)
    assert [w["id"] for w in listed.json()["data"]] == [widget["id"]]

    document = (await client.get("/api/v1/openapi.json", headers=tenant.headers)).json()
    assert {"get", "post"} <= set(document["paths"]["/api/v1/toy/widgets"])

    # another domain links to it through the kernel's related types
    task = await client.post(
        "/api/v1/tasks",
        headers=tenant.headers,
        json={"title": "Oil it", "related_type": "widget", "related_id": widget["id"]},
    )
    assert task.status_code == 201, task.text
    types = await client.get("/api/v1/integrations/events", headers=tenant.headers)
    assert "widget.created" in {t["key"] for t in types.json()["data"]}


async def test_mcp_lists_and_calls_it(runtime: Runtime, tenant: Tenant) -> None:
    async with memory_client(runtime, tenant.token) as client:
        tools = {tool.name: tool for tool in await all_tools(client)}
        assert set(tools) >= TOY_OPERATIONS
        result = await client.call_tool("create_widget", {"name": "Gear"})
        assert not result.is_error
        schema = tool_for(runtime.registry.get("create_widget"), runtime.registry).output_schema  # type: ignore[arg-type]
        Draft202012Validator(schema).validate(result.structured_content)
        assert tools["create_widget"].annotations.open_world_hint is True  # type: ignore[union-attr]
