"""``patchbay mcp`` launched as a subprocess and driven by the official stdio client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client

from core.config import Settings
from core.runtime import Runtime
from patchbay.domains import platform
from tests.factories import Tenant, make_token
from tests.mcp_server.helpers import (
    error_code,
    exercise,
    patchbay_executable,
    stdio_params,
    tool_names,
)

pytestmark = pytest.mark.slow


async def test_stdio_scenario(
    runtime: Runtime, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    params = stdio_params(
        settings.database_url, tenant.token, "--toolsets", "all", tmp_path=tmp_path
    )
    async with Client(params) as client:
        await exercise(client, runtime, tenant.workspace_id, key="stdio")
        assert error_code(await client.call_tool("no_such_tool", {})) == "tool_not_found"


async def test_stdio_runs_workflows_with_its_in_process_worker_on_sqlite(
    runtime: Runtime, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    """SPEC §9: a Claude-Desktop-only setup (SQLite) still executes workflow runs."""
    if not settings.is_sqlite:
        pytest.skip("the in-process worker of `patchbay mcp` runs on SQLite only")
    if runtime.registry.get("trigger_workflow") is None:
        pytest.skip("no workflow operations in this build")
    params = stdio_params(
        settings.database_url, tenant.token, "--toolsets", "all", tmp_path=tmp_path
    )
    recipe = {"steps": [{"type": "log", "message": "hello from stdio"}]}
    async with Client(params) as client:
        created = await client.call_tool("create_workflow", {"name": "hello", "recipe": recipe})
        assert not created.is_error and created.structured_content, created.structured_content
        workflow_id = created.structured_content["data"]["id"]
        run = await client.call_tool("trigger_workflow", {"workflow_id": workflow_id, "input": {}})
        assert not run.is_error and run.structured_content, run.structured_content
        run_id = run.structured_content["data"]["id"]
        status = run.structured_content["data"]["status"]
        with anyio.fail_after(60):
            while status not in ("succeeded", "failed"):
                polled = await client.call_tool(
                    "get_workflow_run", {"run_id": run_id, "wait_seconds": 5}
                )
                assert polled.structured_content and not polled.is_error
                status = polled.structured_content["data"]["status"]
        assert status == "succeeded"


async def test_stdio_read_only_flag_and_default_selection(
    runtime: Runtime, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    params = stdio_params(
        settings.database_url, tenant.token, "--read-only", "--no-worker", tmp_path=tmp_path
    )
    async with Client(params) as client:
        names = await tool_names(client)
    assert "get_me" in names and "create_token" not in names
    assert all(runtime.registry.get(n).read_only for n in names)  # type: ignore[union-attr]


def _run(settings: Settings, token: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    params = stdio_params(settings.database_url, token, tmp_path=tmp_path)
    return subprocess.run(
        [patchbay_executable(), *params.args],
        env=params.env,
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_stdio_refuses_missing_or_bad_tokens(
    runtime: Runtime, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    missing = _run(settings, None, tmp_path)
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert "PATCHBAY_TOKEN is not set" in missing.stderr

    bad = _run(settings, "pbt_not_a_real_token", tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "unauthenticated" in bad.stderr

    rest_only, _ = await make_token(runtime, tenant.workspace_id, abilities=["api:rest"])
    refused = _run(settings, rest_only, tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "token_missing_api_mcp_ability" in refused.stderr


async def test_claude_desktop_example_config_works_once_filled_in(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    import json

    from mcp import StdioServerParameters

    example = Path(__file__).parents[2] / "claude_desktop_config.example.json"
    entry = json.loads(example.read_text())["mcpServers"]["patchbay"]
    assert entry["args"] == ["mcp"]
    assert set(entry["env"]) == {"PATCHBAY_TOKEN", "PATCHBAY_DATABASE_URL"}
    filled = StdioServerParameters(
        command=patchbay_executable(),  # "/ABSOLUTE/PATH/TO/patchbay/.venv/bin/patchbay"
        args=entry["args"],
        env={"PATCHBAY_TOKEN": tenant.token, "PATCHBAY_DATABASE_URL": settings.database_url},
        cwd=str(tmp_path),
    )
    async with Client(filled) as client:
        assert "get_me" in await tool_names(client)
        me = await client.call_tool("get_me", {})
        assert not me.is_error and me.structured_content
        assert me.structured_content["data"]["workspace"]["id"] == tenant.workspace_id


async def test_unknown_toolsets_exit_non_zero_naming_the_valid_ones(
    runtime: Runtime, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    params = stdio_params(
        settings.database_url, tenant.token, "--toolsets", "crm,bogus", tmp_path=tmp_path
    )
    done = subprocess.run(
        [patchbay_executable(), *params.args], env=params.env, cwd=tmp_path, input="",
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "bogus" in done.stderr
    assert all(name in done.stderr for name in platform().registry.toolset_names)

    served = subprocess.run(
        [patchbay_executable(), "serve", "--port", "1"],
        env={**params.env, "PATCHBAY_MCP_TOOLSETS": "nope"}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert served.returncode == 2
    assert "nope" in served.stderr and "crm" in served.stderr
