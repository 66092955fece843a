"""The MCP server in memory through the official client: calls, errors, per-token lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client, MCPError

from core.config import Settings
from core.db import WorkspaceId
from core.operations import PSEUDO_SCOPES, Kind, ToolFilter
from core.runtime import Runtime
from core.scopes import ALL_SCOPES, READ_SCOPES
from core.tokens import repository as token_repository
from core.workspaces import service as workspaces
from core.workspaces.models import WorkspaceStatus
from mcp_server.server import ToolPolicy, build_server, instructions
from tests.domains import suite_platform as platform
from tests.factories import Tenant, make_tenant, make_token, owner_session
from tests.mcp_server.helpers import (
    ALL_TOOLS,
    all_tools,
    error_code,
    error_of,
    memory_client,
    tool_names,
)


async def _tokens_of(runtime: Runtime, workspace_id: WorkspaceId) -> list[str]:
    async with runtime.db.session(workspace_id, read_only=True) as session:
        return [t.id for t in await token_repository.list_for_workspace(session, workspace_id)]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_list_read_write_replay_and_errors(
    runtime: Runtime, tenant: Tenant, mode: str
) -> None:
    server = build_server(runtime, token=tenant.token, policy=ALL_TOOLS)
    async with Client(server, mode=mode) as client:
        assert client.instructions == instructions(runtime.registry)
        names = await tool_names(client)
        assert names == {op.name for op in runtime.registry if op.mcp_tool}

        me = await client.call_tool("get_me", {})
        assert not me.is_error
        data = me.structured_content
        assert data is not None and data["data"]["workspace"]["id"] == tenant.workspace_id
        assert data["request_id"].startswith("req_")

        before = await _tokens_of(runtime, tenant.workspace_id)
        args = {"name": "bot", "scopes": ["crm:read"], "idempotency_key": f"k-{mode}"}
        first = await client.call_tool("create_token", args)
        second = await client.call_tool("create_token", args)
        assert not first.is_error and not second.is_error
        assert first.structured_content and second.structured_content
        created, replayed = first.structured_content["data"], second.structured_content["data"]
        assert created.pop("token").startswith("pbt_")  # the secret is shown once only
        assert replayed == created
        assert first.structured_content["request_id"] != second.structured_content["request_id"]
        after = await _tokens_of(runtime, tenant.workspace_id)
        assert len(after) == len(before) + 1

        reused = await client.call_tool("create_token", {**args, "name": "other"})
        assert error_code(reused) == "idempotency_key_reused"

        bad = await client.call_tool("create_token", {"name": 5, "scopes": ["crm:read"]})
        assert error_code(bad) == "validation_error"
        assert error_of(bad)["request_id"]

        unknown = await client.call_tool("no_such_tool", {})
        assert error_code(unknown) == "tool_not_found"
        assert await _tokens_of(runtime, tenant.workspace_id) == after


async def test_scope_missing_is_an_informative_tool_error(runtime: Runtime, tenant: Tenant) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, scopes=["crm:read"])
    async with memory_client(runtime, token) as client:
        assert "list_tokens" not in await tool_names(client)
        result = await client.call_tool("list_tokens", {})
        assert error_code(result) == "scope_missing"
        assert "workspace:admin" in error_of(result)["message"]


async def test_filtered_tool_is_not_found(runtime: Runtime, tenant: Tenant) -> None:
    policy = ToolPolicy(ToolFilter(deny=frozenset({"create_token"})), None)
    async with memory_client(runtime, tenant.token, policy=policy) as client:
        assert "create_token" not in await tool_names(client)
        result = await client.call_tool("create_token", {"name": "x", "scopes": ["crm:read"]})
        assert error_code(result) == "tool_not_found"
    assert len(await _tokens_of(runtime, tenant.workspace_id)) == 1


async def test_tools_list_paginates(runtime: Runtime, tenant: Tenant) -> None:
    async with memory_client(runtime, tenant.token, page_size=2) as client:
        first = await client.list_tools()
        assert len(first.tools) == 2 and first.next_cursor
        tools = await all_tools(client)
        assert [t.name for t in tools] == [op.name for op in runtime.registry if op.mcp_tool]
        with pytest.raises(MCPError):
            await client.list_tools(cursor="not-a-cursor")


async def test_read_only_token_sees_no_write_tools(runtime: Runtime, tenant: Tenant) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, scopes=list(READ_SCOPES))
    async with memory_client(runtime, token) as client:
        tools = await all_tools(client)
    ops = [runtime.registry.get(t.name) for t in tools]
    assert ops and all(op is not None and op.kind is Kind.read for op in ops)
    assert all(t.annotations and t.annotations.read_only_hint for t in tools)


async def test_every_scope_hides_its_tools(runtime: Runtime) -> None:
    """For every scope S used by an operation, a token lacking only S lists none of them."""
    tenant = await make_tenant(runtime, plan="custom")  # 25 tokens: one per scope below
    scopes = sorted({op.scope for op in runtime.registry if op.scope not in PSEUDO_SCOPES})
    assert scopes
    for scope in scopes:
        token, _ = await make_token(
            runtime, tenant.workspace_id, scopes=[s for s in ALL_SCOPES if s != scope]
        )
        async with memory_client(runtime, token) as client:
            names = await tool_names(client)
        expected = {op.name for op in runtime.registry if op.scope != scope and op.mcp_tool}
        assert names == expected, f"lacking {scope}"


async def test_plan_hides_feature_tools(runtime: Runtime) -> None:
    starter = await make_tenant(runtime, plan="starter")
    async with runtime.db.session(read_only=True) as session:
        from core.workspaces import repository

        workspace = await repository.get(session, starter.workspace_id)
    assert workspace is not None
    from core.workspaces.plans import plan_for

    plan = plan_for(workspace.plan)
    gated = [
        op
        for op in runtime.registry
        if op.mcp_tool and op.feature and not plan.allows_feature(op.feature)
    ]
    async with memory_client(runtime, starter.token) as client:
        names = await tool_names(client)
        assert "get_me" in names
        assert not names & {op.name for op in gated}
        for op in gated[:3]:
            assert error_code(await client.call_tool(op.name, {})) == "tier_not_entitled"


async def test_disabled_module_hides_its_tools(runtime: Runtime) -> None:
    async with owner_session(runtime) as session:
        workspace = await workspaces.create_workspace(session, "CRM only", "pro", ["crm"])
    token, _ = await make_token(runtime, WorkspaceId(workspace.id))
    async with memory_client(runtime, token) as client:
        names = await tool_names(client)
    expected = {op.name for op in runtime.registry if op.module in (None, "crm") and op.mcp_tool}
    assert names == expected


async def test_token_without_mcp_ability(runtime: Runtime, tenant: Tenant) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, abilities=["api:rest"])
    async with memory_client(runtime, token) as client:
        with pytest.raises(MCPError) as caught:
            await client.list_tools()
        assert caught.value.message.startswith("token_missing_api_mcp_ability")
        result = await client.call_tool("get_me", {})
        assert error_code(result) == "token_missing_api_mcp_ability"


async def test_inactive_workspace_and_revoked_token(runtime: Runtime, tenant: Tenant) -> None:
    token, token_id = await make_token(runtime, tenant.workspace_id)
    async with memory_client(runtime, token) as client:
        assert "get_me" in await tool_names(client)
        revoked = await client.call_tool("revoke_token", {"token_id": token_id})
        assert not revoked.is_error
        with pytest.raises(MCPError) as caught:
            await client.list_tools()
        assert caught.value.message.startswith("unauthenticated")
        assert error_code(await client.call_tool("get_me", {})) == "unauthenticated"
    async with owner_session(runtime) as session:
        await workspaces.set_status(session, tenant.workspace_id, WorkspaceStatus.archived)
    async with memory_client(runtime, tenant.token) as client:
        assert error_code(await client.call_tool("get_me", {})) == "workspace_inactive"


async def test_idempotency_key_must_be_a_string(runtime: Runtime, tenant: Tenant) -> None:
    async with memory_client(runtime, tenant.token) as client:
        result = await client.call_tool(
            "create_token", {"name": "x", "scopes": ["crm:read"], "idempotency_key": 7}
        )
        assert error_code(result) == "validation_error"
        # reads take no idempotency_key: it is an unknown argument there
        result = await client.call_tool("get_me", {"idempotency_key": "k"})
        assert error_code(result) == "validation_error"
    assert len(await _tokens_of(runtime, tenant.workspace_id)) == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_internal_errors_are_sanitized(tmp_path: Path, mode: str) -> None:
    """A broken database never leaks exception text, on either protocol era."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/empty.db", _env_file=None)  # type: ignore[call-arg]
    broken = Runtime.create(settings, platform())
    try:
        from core.tokens import secrets

        well_formed = secrets.issue().plaintext  # parsed, then looked up: the query fails
        server = build_server(broken, token=well_formed, policy=ALL_TOOLS)
        async with Client(server, mode=mode) as client:
            with pytest.raises(MCPError) as caught:
                await client.list_tools()
            assert caught.value.message.startswith("internal_error")
            assert "table" not in caught.value.message.lower()
            result = await client.call_tool("get_me", {})
            assert error_code(result) == "internal_error"
            assert "table" not in result.content[0].text.lower()  # type: ignore[union-attr]
    finally:
        await broken.close()


async def test_rate_limit_error_says_when_to_retry(runtime: Runtime, tenant: Tenant) -> None:
    """A 429 over MCP is a tool error with the code and retry_after_seconds (SPEC §3)."""
    # a tools/list counts too (the client lists once to learn the output schemas)
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=2)
    server = build_server(runtime, token=token, policy=ALL_TOOLS)
    async with Client(server) as client:
        await client.list_tools()
        assert not (await client.call_tool("get_me", {})).is_error
        limited = await client.call_tool("get_me", {})
        assert error_code(limited) == "rate_limited"
        error = error_of(limited)
        assert 1 <= error["retry_after_seconds"] <= 61
        assert error["request_id"].startswith("req_") and error["message"]


async def test_daily_cap_error_says_when_to_retry(runtime: Runtime) -> None:
    """Over the plan's daily cap (growth: 100): the tool error carries the seconds to
    midnight UTC."""
    from sqlalchemy import update

    from core.workflows.models import WorkflowDailyUsage

    tenant = await make_tenant(runtime, name="Growth", plan="growth")
    server = build_server(runtime, token=tenant.token, policy=ALL_TOOLS)
    recipe = {"steps": [{"type": "log", "message": "hi"}]}
    async with Client(server) as client:
        created = await client.call_tool("create_workflow", {"name": "W", "recipe": recipe})
        workflow_id = (created.structured_content or {})["data"]["id"]
        first = await client.call_tool("trigger_workflow", {"workflow_id": workflow_id})
        assert not first.is_error
        async with owner_session(runtime) as session:  # use up the rest of today's runs
            await session.execute(update(WorkflowDailyUsage).values(count=100))
        capped = await client.call_tool("trigger_workflow", {"workflow_id": workflow_id})
        assert error_code(capped) == "daily_workflow_cap_reached"
        retry = error_of(capped)["retry_after_seconds"]
        assert 1 <= retry <= 86_400


async def test_a_fixed_token_session_counts_tools_list_too(
    runtime: Runtime, tenant: Tenant
) -> None:
    """Over stdio (and in memory) the token is fixed: each tools/list counts against its
    limit like a tool call, as every HTTP request does on /mcp."""
    limited, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=3)
    async with memory_client(runtime, limited) as client:
        for _ in range(2):  # the third request of the minute is the call below
            await client.list_tools()
        assert not (await client.call_tool("get_me", {})).is_error
        with pytest.raises(MCPError) as caught:
            await client.list_tools()
        assert "rate_limited" in str(caught.value)
