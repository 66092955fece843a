"""Helpers for the MCP tests: clients in memory, over HTTP (uvicorn) and over stdio."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from core.config import Settings
from core.operations import ToolFilter
from core.runtime import Runtime
from mcp_server.server import ToolPolicy, build_server
from tests.domains import suite_platform as platform

ALL_TOOLS = ToolPolicy(ToolFilter(), None)
"""No toolset restriction: every operation the token may call is listed."""


@asynccontextmanager
async def memory_client(
    runtime: Runtime, token: str, *, policy: ToolPolicy = ALL_TOOLS, **kw: Any
) -> AsyncIterator[Client]:
    """The official client connected in memory to a server fixed to ``token``."""
    async with Client(build_server(runtime, token=token, policy=policy, **kw)) as client:
        yield client


async def all_tools(client: Client) -> list[types.Tool]:
    """Every tool of a (possibly paginated) tools/list."""
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools


async def tool_names(client: Client) -> set[str]:
    return {t.name for t in await all_tools(client)}


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    """The SPEC §3 error object of a tool error result: its text, JSON. An error carries no
    structured content (the TypeScript SDK would validate it against the output schema)."""
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    assert result.structured_content is None
    return json.loads(result.content[0].text)["error"]  # type: ignore[union-attr]


def error_code(result: types.CallToolResult) -> str | None:
    """The error code of a tool error result."""
    return error_of(result)["code"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def http_server(settings: Settings) -> AsyncIterator[str]:
    """The app of ``settings`` under uvicorn on a free loopback port; yields the base URL."""
    from rest.app import build_app

    port = free_port()
    config = uvicorn.Config(
        build_app(Runtime.create(settings, platform())),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(15):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


@asynccontextmanager
async def http_client(
    base_url: str, token: str, *, headers: dict[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """The official client over Streamable HTTP with a bearer token."""
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with (
        httpx2.AsyncClient(headers=all_headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(base_url + "/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def patchbay_executable() -> str:
    return str(Path(sys.executable).with_name("patchbay"))


def stdio_params(
    database_url: str, token: str | None, *args: str, tmp_path: Path
) -> StdioServerParameters:
    """``patchbay mcp`` as a subprocess with only the variables it needs."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_LOG_LEVEL": "WARNING",
    }
    if token is not None:
        env["PATCHBAY_TOKEN"] = token
    return StdioServerParameters(
        command=patchbay_executable(), args=["mcp", *args], env=env, cwd=str(tmp_path)
    )


async def count_tokens(runtime: Runtime, workspace_id: str) -> int:
    from core.db import WorkspaceId
    from core.tokens import repository

    async with runtime.db.session(WorkspaceId(workspace_id), read_only=True) as session:
        return len(await repository.list_for_workspace(session, WorkspaceId(workspace_id)))


async def exercise(client: Client, runtime: Runtime, workspace_id: str, key: str) -> None:
    """The scenario every transport runs: list, a read, a replayed write, a tool error."""
    names = await tool_names(client)
    assert {"get_me", "create_token"} <= names, names

    me = await client.call_tool("get_me", {})
    assert not me.is_error and me.structured_content
    assert me.structured_content["data"]["workspace"]["id"] == workspace_id
    assert json.loads(me.content[0].text) == me.structured_content  # type: ignore[union-attr]

    before = await count_tokens(runtime, workspace_id)
    args = {"name": "replayed", "scopes": ["crm:read"], "idempotency_key": key}
    first = await client.call_tool("create_token", args)
    second = await client.call_tool("create_token", args)
    assert not first.is_error and not second.is_error
    assert first.structured_content and second.structured_content
    created = dict(first.structured_content["data"])
    assert created.pop("token").startswith("pbt_")
    assert second.structured_content["data"] == created
    assert await count_tokens(runtime, workspace_id) == before + 1

    bad = await client.call_tool("create_token", {"name": "x", "scopes": "crm:read"})
    assert error_code(bad) == "validation_error"
    assert await count_tokens(runtime, workspace_id) == before + 1


def mcp_caller(client: Client) -> Any:
    """``tests.op_samples.CallOp`` over an MCP client session."""

    async def call_op(name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(name, args)
        assert not result.is_error, (name, result.content)
        assert result.structured_content is not None
        return result.structured_content["data"]

    return call_op
