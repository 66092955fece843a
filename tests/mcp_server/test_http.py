"""MCP over Streamable HTTP against a real uvicorn server (build_app) on a loopback port."""

from __future__ import annotations

import httpx
import pytest

from core.config import Settings
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from tests.factories import Tenant, make_token
from tests.mcp_server.helpers import (
    error_code,
    exercise,
    http_client,
    http_server,
    tool_names,
)

ALL = {"X-MCP-Toolsets": "all"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_scenario(
    runtime: Runtime, settings: Settings, tenant: Tenant, mode: str
) -> None:
    async with (
        http_server(settings) as base,
        http_client(base, tenant.token, headers=ALL, mode=mode) as client,
    ):
        await exercise(client, runtime, tenant.workspace_id, key=f"http-{mode}")
        missing = await make_token(runtime, tenant.workspace_id, scopes=["crm:read"])
        async with http_client(base, missing[0], headers=ALL, mode=mode) as limited:
            assert "list_tokens" not in await tool_names(limited)
            assert error_code(await limited.call_tool("list_tokens", {})) == "scope_missing"


async def test_http_auth_errors_and_metadata(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    rest_only, _ = await make_token(runtime, tenant.workspace_id, abilities=["api:rest"])
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with http_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/mcp", json=body)
        assert r.status_code == 401
        # a JSON-RPC error the SDK clients surface, its data the SPEC §3 error object
        error = r.json()["error"]
        assert error["code"] == -32001 and error["data"]["code"] == "unauthenticated"
        assert error["message"].startswith("unauthenticated: A valid bearer token")
        assert error["data"]["request_id"] == r.headers["x-request-id"]
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert 'error_description="A valid bearer token is required' in challenge
        metadata_url = f"{base}/.well-known/oauth-protected-resource/mcp"
        assert f'resource_metadata="{metadata_url}"' in challenge

        r = await http.post("/mcp", json=body, headers={"Authorization": "Bearer pbt_nope"})
        assert r.status_code == 401

        r = await http.post("/mcp", json=body, headers={"Authorization": f"Bearer {rest_only}"})
        assert r.status_code == 403
        error = r.json()["error"]
        assert error["data"]["code"] == "token_missing_api_mcp_ability"
        assert "--abilities api:mcp" in error["message"]
        refusal = r.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in refusal and "api:mcp" in refusal

        # an unknown toolset is a 400 naming the valid ones
        auth = {"Authorization": f"Bearer {tenant.token}", "X-MCP-Toolsets": "crm,bogus"}
        r = await http.post("/mcp", json=body, headers=auth)
        assert r.status_code == 400
        error = r.json()["error"]["data"]
        assert error["code"] == "unknown_toolset" and "bogus" in error["message"]
        assert all(name in error["message"] for name in runtime.registry.toolset_names)

        for path in (
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ):
            r = await http.get(path)
            assert r.status_code == 200
            meta = r.json()
            assert meta["resource"] == f"{base}/mcp"
            assert meta["bearer_methods_supported"] == ["header"]
            assert set(meta["scopes_supported"]) == set(ALL_SCOPES)

        # DNS rebinding protection: unknown Host or Origin are refused.
        headers = {
            "Authorization": f"Bearer {tenant.token}",
            "Accept": "application/json, text/event-stream",
        }
        r = await http.post("/mcp", json=body, headers={**headers, "Host": "evil.example"})
        assert r.status_code == 421
        r = await http.post("/mcp", json=body, headers={**headers, "Origin": "http://evil.example"})
        assert r.status_code == 403

        # REST is still served by the same app
        r = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.token}"})
        assert r.status_code == 200


async def test_headers_narrow_the_list(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    registry = runtime.registry
    async with http_server(settings) as base:
        async with http_client(base, tenant.token, headers=ALL) as client:
            everything = await tool_names(client)
        assert everything == {op.name for op in registry if op.mcp_tool}

        async with http_client(base, tenant.token) as client:  # the default selection
            default = await tool_names(client)
        assert "get_me" in default and default < everything
        assert {registry.get(name).toolset for name in default} == registry.default_toolsets

        headers = {"X-MCP-Toolsets": "all", "X-MCP-Readonly": "true"}
        async with http_client(base, tenant.token, headers=headers) as client:
            read_only = await tool_names(client)
            assert read_only == {op.name for op in registry if op.read_only and op.mcp_tool}
            result = await client.call_tool("create_token", {"name": "x", "scopes": ["crm:read"]})
            assert error_code(result) == "tool_not_found"

        toolset = registry.toolset_names[0]
        async with http_client(base, tenant.token, headers={"X-MCP-Toolsets": toolset}) as client:
            narrowed = await tool_names(client)
    assert narrowed == {op.name for op in registry if op.toolset == toolset and op.mcp_tool}


async def test_header_cannot_widen_the_operator_ceiling(
    runtime: Runtime, settings: Settings, tenant: Tenant
) -> None:
    ceiling = settings.model_copy(update={"mcp_toolsets": "workspace"})
    workspace_tools = {
        op.name for op in runtime.registry if op.toolset == "workspace" and op.mcp_tool
    }
    others = sorted({op.toolset for op in runtime.registry} - {"workspace"})
    async with http_server(ceiling) as base:
        async with http_client(base, tenant.token) as client:
            assert await tool_names(client) == workspace_tools
        for asked in ["all", ",".join(others), "workspace," + ",".join(others)]:
            async with http_client(base, tenant.token, headers={"X-MCP-Toolsets": asked}) as client:
                assert await tool_names(client) <= workspace_tools, asked
        if others:
            async with http_client(base, tenant.token, headers={"X-MCP-Toolsets": others[0]}) as c:
                assert await tool_names(c) == set()
