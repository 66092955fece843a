"""``patchbay up`` as a newcomer runs it: a fresh SQLite file, the demo workspace with sample
data and an active workflow, REST + MCP served with an in-process worker; a second ``up``
reuses the database and duplicates nothing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.contract.server import free_port, patchbay_exe, wait_healthy

pytestmark = pytest.mark.slow


@contextmanager
def up(database_url: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Run ``patchbay up --json``; yield (the printed welcome, base URL)."""
    port = free_port()
    env = {**os.environ, "PATCHBAY_DATABASE_URL": database_url, "PATCHBAY_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [patchbay_exe(), "up", "--port", str(port), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        welcome = json.loads("".join(lines))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)  # type: ignore[arg-type]
        yield welcome, base
    finally:
        proc.terminate()
        proc.wait(20)


def counts(base: str, token: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"}
    return {
        name: len(httpx.get(f"{base}/api/v1/{name}?limit=100", headers=headers).json()["data"])
        for name in ("companies", "contacts", "leads", "deals", "tasks", "workflows")
    }


async def test_up_twice(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/fresh/patchbay.db"
    with up(database_url) as (welcome, base):
        token = welcome["token"]
        assert token and token.startswith("pbt_")
        assert token in welcome["curl"]
        desktop = welcome["claude_desktop"]["mcpServers"]["patchbay"]
        assert Path(desktop["command"]).is_absolute() and desktop["args"] == ["mcp"]
        assert desktop["env"] == {"PATCHBAY_TOKEN": token, "PATCHBAY_DATABASE_URL": database_url}
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            me = (await client.get("/api/v1/me")).json()["data"]
            assert me["workspace"]["plan"] == "pro"
            assert set(me["token"]["abilities"]) == {
                "api:rest", "api:mcp", f"tenant:{me['workspace']['id']}"
            }  # fmt: skip
            first = counts(base, token)
            assert all(first[name] > 0 for name in first), first
            workflows = (await client.get("/api/v1/workflows")).json()["data"]
            kickoff = next(w for w in workflows if w["name"] == "Spring Promo kickoff")
            assert kickoff["status"] == "active"
            run = (
                await client.post(
                    f"/api/v1/workflows/{kickoff['id']}/runs",
                    json={"input": {"campaign": "Spring Promo"}},
                )
            ).json()["data"]
            done = (await client.get(f"/api/v1/workflow-runs/{run['id']}?wait_seconds=20")).json()
            assert done["data"]["status"] == "succeeded", done
            assert [s["type"] for s in done["data"]["steps"]] == [
                "log",
                "delay",
                "fire_webhook_event",
            ]
            full = (await client.get(f"/api/v1/workflows/{kickoff['id']}")).json()["data"]
            assert full["recipe"]["steps"][2]["event"] == "campaign.kickoff"
        http = httpx.AsyncClient(headers=headers, timeout=30)
        async with (
            http,
            Client(streamable_http_client(welcome["mcp_url"], http_client=http)) as mcp,
        ):
            names = {tool.name for tool in (await mcp.list_tools()).tools}
            assert {"search_contacts", "trigger_workflow", "get_workflow_run"} <= names
    with up(database_url) as (again, base):
        assert again["token"] is None
        assert again["workspace_id"] == welcome["workspace_id"]
        assert counts(base, token) == first
