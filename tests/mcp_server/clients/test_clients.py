"""Patchbay's MCP server driven by the clients users actually run, over stdio and HTTP.

- The official **TypeScript SDK** (what Claude Desktop, the MCP Inspector and n8n embed):
  an older 1.x (1.17, protocol 2025-06-18) and the newest 1.x (1.32, 2025-11-25), pinned
  in ``package-lock.json`` and installed with ``npm ci`` into ``node_modules`` (ignored).
  It validates every ``structuredContent`` against the tool's output schema, errors
  included; this suite is what proves an error's code reaches the model.
- The official **Python SDK 1.x** (``requirements-mcp1.txt``), in an isolated venv,
  speaking 2025-03-26, and **2.x** (Patchbay's own dependency) on the stateless
  2026-07-28 revision.

Each client runs one plan: a successful call of every toolset, then errors (not found,
validation, bad cursor) and a token revoked mid-session, and reports what it saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from core.config import Settings
from core.runtime import Runtime
from patchbay.domains import platform
from tests.domains import suite_platform
from tests.factories import Tenant
from tests.mcp_server.helpers import http_server

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
PY1_VENV = HERE / ".venv-mcp1"
MISSING_ID = "con_00000000000000000000000000"
TS_SDKS = {"mcp-sdk-1-17": "2025-06-18", "mcp-sdk-1-32": "2025-11-25"}
CALL_TIMEOUT = 120


# ---------------------------------------------------------------- installs


def _stamped(target: Path, stamp_name: str, inputs: list[Path]) -> bool:
    """Whether ``target`` was installed from exactly these ``inputs`` (a content stamp)."""
    stamp = target / stamp_name
    wanted = "\n".join(p.read_text() for p in inputs)
    return stamp.exists() and stamp.read_text() == wanted


def _stamp(target: Path, stamp_name: str, inputs: list[Path]) -> None:
    (target / stamp_name).write_text("\n".join(p.read_text() for p in inputs))


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """``npm ci`` of the pinned TypeScript SDKs (once per lockfile)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are needed for the TypeScript clients"
    inputs = [HERE / "package.json", HERE / "package-lock.json"]
    modules = HERE / "node_modules"
    if not (modules.exists() and _stamped(modules, ".patchbay-stamp", inputs)):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600,
            capture_output=True,
        )  # fmt: skip
        _stamp(modules, ".patchbay-stamp", inputs)
    return HERE / "client.mjs"


@pytest.fixture(scope="session")
def python1() -> str:
    """The interpreter of an isolated venv with the Python SDK 1.x."""
    requirements = HERE / "requirements-mcp1.txt"
    python = PY1_VENV / "bin" / "python"
    if not (python.exists() and _stamped(PY1_VENV, ".patchbay-stamp", [requirements])):
        shutil.rmtree(PY1_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(PY1_VENV)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
            check=True, timeout=600, capture_output=True,
        )  # fmt: skip
        _stamp(PY1_VENV, ".patchbay-stamp", [requirements])
    return str(python)


# ---------------------------------------------------------------- the plan


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """One engine is enough here: what is tested is the clients' protocol handling."""
    path = tmp_path / "clients.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


async def _workflow(settings: Settings, tenant: Tenant) -> str:
    from rest.app import build_app

    transport = httpx.ASGITransport(app=build_app(Runtime.create(settings, suite_platform())))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as rest:
        response = await rest.post(
            "/api/v1/workflows",
            headers=tenant.headers,
            json={"name": "Hello", "recipe": {"steps": [{"type": "log", "message": "hi"}]}},
        )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


SUCCESS = {  # a successful call of every toolset
    "workspace": ("get_me", {}),
    "crm": ("create_contact", {"name": "Ada Lovelace", "email": "ada@example.test"}),
    "sales": ("create_lead", {"name": "Grace Hopper", "custom_fields": {"tier": 1}}),
    "accounting": (
        "create_accounting_account",
        {"code": "4000", "name": "Sales", "type": "revenue"},
    ),
    "tasks": ("create_task", {"title": "Call Ada"}),
    "activities": ("log_activity", {"type": "note", "summary": "Met Ada"}),
    "workflows": ("list_workflows", {}),
    "webhooks": ("register_integration_event_type", {"key": "campaign.kickoff"}),
    "admin": ("list_tokens", {}),
    # a repeated invitation of someone still pending replaces the link: safe to rerun
    "members": ("invite_member", {"email": "ada@example.test", "role": "viewer"}),
    "lifecycle": ("get_billing_subscription", {}),
    "support": ("create_support_ticket", {"subject": "Invoice question"}),
    "conversations": ("create_conversation", {"channel": "chat", "subject": "Hello"}),
    "knowledge": ("create_knowledge_collection", {"name": "FAQ"}),
    "knowledge_search": ("search_knowledge", {"query": "refund policy"}),
}
ERRORS = [
    ("get_contact", {"contact_id": MISSING_ID}, "contact_not_found"),
    ("create_contact", {"name": 42}, "validation_error"),
    ("search_contacts", {"cursor": "not-a-cursor"}, "invalid_cursor"),
]


def plan_calls(workflow_id: str, token_id: str) -> list[dict[str, Any]]:
    calls = [{"name": name, "arguments": args} for name, args in SUCCESS.values()]
    calls += [
        {"name": "search_contacts", "arguments": {"query": "Ada"}},
        {"name": "trigger_workflow", "arguments": {"workflow_id": workflow_id}},
    ]
    calls += [{"name": name, "arguments": args} for name, args, _ in ERRORS]
    calls += [
        {"name": "revoke_token", "arguments": {"token_id": token_id}},
        {"name": "get_me", "arguments": {}},
    ]
    return calls


def test_plan_covers_every_toolset() -> None:
    assert set(SUCCESS) == set(platform().registry.toolset_names)


def check_report(
    report: dict[str, Any], protocol_version: str, *, status_only: bool = False
) -> None:
    """What every client must have seen (``status_only``: a client that reports an HTTP
    error by its status alone)."""
    assert "fatal" not in report, report.get("fatal")
    assert report["protocolVersion"] == protocol_version
    tools = set(report["tools"])
    # stdio serves the product's domains; the test HTTP server the suite's (a toy too)
    product = {op.name for op in platform().registry if op.mcp_tool}
    suite = {op.name for op in suite_platform().registry if op.mcp_tool}
    assert tools in (product, suite)
    calls = report["calls"]
    n_ok = len(SUCCESS) + 2
    for entry in calls[:n_ok]:
        assert "threw" not in entry, f"{entry['name']}: the client threw {entry['threw']}"
        assert entry["isError"] is False, entry
        assert entry["structured"]["data"], entry  # lists too: none of them is empty
        assert json.loads(entry["text"]) == entry["structured"]
    assert calls[n_ok - 2]["structured"]["data"][0]["name"] == "Ada Lovelace"
    assert calls[n_ok - 1]["structured"]["data"]["status"] == "queued"
    for entry, (name, _, code) in zip(calls[n_ok:], ERRORS, strict=False):
        assert entry["name"] == name
        assert "threw" not in entry, f"{name}: the client threw {entry['threw']}"
        assert entry["isError"] is True
        assert not entry.get("structured"), "an error result carries no structured content"
        error = json.loads(entry["text"])["error"]
        assert error["code"] == code and error["message"] and error["request_id"]
    revoke, after = calls[-2], calls[-1]
    assert revoke["isError"] is False, revoke
    # the next call fails: a tool error over stdio, an HTTP 401 over HTTP, whose JSON-RPC
    # error names the code (the Python SDK 1.x drops a 4xx's body: it shows the status)
    if "threw" in after:
        assert ("401" if status_only else "unauthenticated: ") in after["threw"], after["threw"]
    else:
        assert after["isError"] is True
        assert json.loads(after["text"])["error"]["code"] == "unauthenticated"


# ---------------------------------------------------------------- transports


def patchbay_exe() -> str:
    candidate = Path(sys.executable).with_name("patchbay")
    return str(candidate) if candidate.exists() else (shutil.which("patchbay") or "patchbay")


def stdio_spec(settings: Settings, tenant: Tenant) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PATCHBAY_TOKEN": tenant.token,
        "PATCHBAY_DATABASE_URL": settings.database_url,
        "PATCHBAY_LOG_LEVEL": "WARNING",
    }
    return {"kind": "stdio", "command": patchbay_exe(), "args": ["mcp", "--toolsets", "all"],
            "env": env}  # fmt: skip


def http_spec(base: str, tenant: Tenant) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {tenant.token}", "X-MCP-Toolsets": "all"}
    return {"kind": "http", "url": f"{base}/mcp", "headers": headers}


async def run_plan(argv: list[str], plan: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    with anyio.fail_after(CALL_TIMEOUT):
        done = await anyio.run_process([*argv, str(plan_file)], check=False)
    output = done.stdout.decode().strip().splitlines()
    assert done.returncode == 0 and output, done.stderr.decode()[-3000:]
    return json.loads(output[-1])


@pytest.fixture
def server(settings: Settings) -> Iterator[Settings]:
    yield settings.model_copy(update={"log_level": "WARNING"})


@pytest.mark.parametrize("sdk", list(TS_SDKS))
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_typescript_client(
    sdk: str, transport: str, node_clients: Path, settings: Settings, tenant: Tenant,
    tmp_path: Path,
) -> None:  # fmt: skip
    workflow_id = await _workflow(settings, tenant)
    plan: dict[str, Any] = {"sdk": sdk, "calls": plan_calls(workflow_id, tenant.token_id)}
    argv = ["node", str(node_clients)]
    if transport == "stdio":
        plan["transport"] = stdio_spec(settings, tenant)
        report = await run_plan(argv, plan, tmp_path)
    else:
        async with http_server(settings) as base:
            plan["transport"] = http_spec(base, tenant)
            report = await run_plan(argv, plan, tmp_path)
    check_report(report, TS_SDKS[sdk])


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_python_sdk_1_on_2025_03_26(
    transport: str, python1: str, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    workflow_id = await _workflow(settings, tenant)
    plan: dict[str, Any] = {"calls": plan_calls(workflow_id, tenant.token_id)}
    argv = [python1, str(HERE / "client_py1.py")]
    if transport == "stdio":
        plan["transport"] = stdio_spec(settings, tenant)
        report = await run_plan(argv, plan, tmp_path)
    else:
        async with http_server(settings) as base:
            plan["transport"] = http_spec(base, tenant)
            report = await run_plan(argv, plan, tmp_path)
    check_report(report, "2025-03-26", status_only=transport == "http")


async def _python2_report(client: Client, calls: list[dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = {"protocolVersion": client.protocol_version, "calls": []}
    tools: list[str] = []
    cursor = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += [tool.name for tool in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            break
    report["tools"] = tools
    for call in calls:
        entry: dict[str, Any] = {"name": call["name"]}
        try:
            result = await client.call_tool(call["name"], call["arguments"])
            entry["isError"] = result.is_error
            entry["text"] = result.content[0].text  # type: ignore[union-attr]
            entry["structured"] = result.structured_content
        except (MCPError, RuntimeError) as error:
            entry["threw"] = str(error)
        report["calls"].append(entry)
    return report


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_python_sdk_2_on_2026_07_28(
    transport: str, settings: Settings, tenant: Tenant
) -> None:
    workflow_id = await _workflow(settings, tenant)
    calls = plan_calls(workflow_id, tenant.token_id)
    with anyio.fail_after(CALL_TIMEOUT):
        if transport == "stdio":
            spec = stdio_spec(settings, tenant)
            params = StdioServerParameters(command=spec["command"], args=spec["args"],
                                           env=spec["env"])  # fmt: skip
            async with Client(params) as client:
                report = await _python2_report(client, calls)
        else:
            async with http_server(settings) as base:
                spec = http_spec(base, tenant)
                async with (
                    httpx2.AsyncClient(headers=spec["headers"], timeout=30) as http,
                    Client(streamable_http_client(spec["url"], http_client=http)) as client,
                ):
                    report = await _python2_report(client, calls)
    check_report(report, "2026-07-28")
