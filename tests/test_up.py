"""``patchbay up`` as a newcomer runs it: a fresh SQLite file, the demo workspace with sample
data and an active workflow, REST + MCP served with an in-process worker; a second ``up``
reuses the database and duplicates nothing."""

from __future__ import annotations

import json
import os
import re
import socket
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
        # the dashboard, signed in as the demo owner the welcome names
        assert welcome["dashboard_url"] == base + "/"
        async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
            page = await browser.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf, page.text
            owner = welcome["owner"]
            signed_in = await browser.post("/signin", data={
                "csrf_token": csrf.group(1), "email": owner["email"],
                "password": owner["password"]})  # fmt: skip
            assert signed_in.status_code == 303
            home = await browser.get("/")
            assert home.status_code == 200 and owner["email"] in home.text
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


# ---------------------------------------------------------------- what a newcomer sees


def newcomer_env(home: Path) -> dict[str, str]:
    """A fresh machine: an empty HOME, no Patchbay or XDG settings, an 80-column terminal."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PATCHBAY_", "XDG_")) or k.startswith("PATCHBAY_TEST_")
    }
    env.update(HOME=str(home), COLUMNS="80", NO_COLOR="1", TERM="dumb")
    return env


@contextmanager
def up_text(
    home: Path, port: int, *args: str
) -> Iterator[tuple[list[str], subprocess.Popen[str], Path]]:
    """Run ``patchbay up`` as printed by the README; yield its stdout up to 'Serving on'."""
    err = home / f"up-{secrets_hex()}.err"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [patchbay_exe(), "up", "--port", str(port), *args],
            env=newcomer_env(home),
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Serving on "):
                break
        else:
            raise AssertionError("up ended early:\n" + "\n".join(lines) + err.read_text())
        wait_healthy(f"http://127.0.0.1:{port}", proc)  # type: ignore[arg-type]
        yield lines, proc, err
    finally:
        proc.terminate()
        proc.wait(20)


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(4)


def printed(lines: list[str], label: str) -> str:
    """The value after ``label`` on its line of the welcome text."""
    (line,) = [x for x in lines if x.startswith(label)]
    return line[len(label) :].strip()


def next_steps(lines: list[str]) -> list[str]:
    start = next(i for i, x in enumerate(lines) if x.startswith("Next steps")) + 1
    steps = []
    for line in lines[start:]:
        if not line.strip():
            break
        steps.append(line.strip())
    return steps


def run_as_printed(home: Path, steps: list[str]) -> list[str]:
    """Paste the printed lines into one shell, as a newcomer would; one output per line."""
    marker = "@@@ next @@@"
    script = "set -euo pipefail\n" + "".join(f"{line}\necho\necho '{marker}'\n" for line in steps)
    out = subprocess.run(
        ["bash", "-c", script],
        env=newcomer_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"{steps}\n{out.stdout}\n{out.stderr}"
    return [part.strip() for part in out.stdout.split(marker)][: len(steps)]


async def test_a_newcomer_runs_up_on_a_busy_port_then_a_free_one(tmp_path: Path) -> None:
    """The issue-15 walk-through: a busy port costs nothing, and every printed command
    (ids, curl lines, the CLI path) works exactly as printed."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    busy = socket.socket()
    busy.bind(("127.0.0.1", port))
    busy.listen()
    with busy:
        failed = subprocess.run(
            [patchbay_exe(), "up", "--port", str(port)],
            env=newcomer_env(home),
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert failed.returncode == 2, failed
    assert f"--port {port + 1}" in failed.stderr and "pbt_" not in failed.stdout
    assert not list(home.rglob("patchbay.db")), "nothing is created before the port is ours"

    with up_text(home, port) as (lines, _proc, err):
        token = lines[lines.index(next(x for x in lines if "shown once" in x)) + 2]
        assert token.startswith("pbt_")
        workspace_id = printed(lines, "Workspace id:")
        workflow_id = printed(lines, "Demo workflow id:").split()[0]
        cli = printed(lines, "CLI:").split()[0]
        assert workspace_id.startswith("wrk_") and workflow_id.startswith("wf_")
        assert Path(cli).is_absolute() and os.access(cli, os.X_OK)
        steps = next_steps(lines)
        assert steps[0] == f"export TOKEN={token}"
        assert not any("uuidgen" in s or "<" in s for s in steps), steps
        _, me_out, contacts_out, trigger_out, runs_out = run_as_printed(home, steps)
        me = json.loads(me_out)["data"]
        assert me["workspace"]["id"] == workspace_id
        contacts = json.loads(contacts_out)["data"]
        assert {c["name"] for c in contacts} >= {"Maya Chen", "Luis Ortega"}
        run = json.loads(trigger_out)["data"]
        assert run["workflow_id"] == workflow_id and run["status"] == "queued"
        assert run["id"] in runs_out  # the CLI table shows whole ids at 80 columns
        shown = run_as_printed(home, [f"{cli} run show {run['id']}"])[0]
        assert run["id"] in shown and workflow_id in shown
        assert "alembic" not in err.read_text()  # no migration chatter on start

    # Second start: the token is not shown again; the printed way to get one works.
    with up_text(home, port) as (lines, _proc, _err):
        assert not any(x.startswith("pbt_") for x in lines)
        assert printed(lines, "Workspace id:") == workspace_id
        steps = next_steps(lines)
        assert steps[0].startswith(f"export TOKEN=$({cli} token create --workspace")
        outputs = run_as_printed(home, steps[:2])
        assert json.loads(outputs[1])["data"]["workspace"]["id"] == workspace_id

    # Lost the demo token: --new-token mints another and revokes the old one.
    with up_text(home, port, "--new-token") as (lines, _proc, _err):
        fresh = lines[lines.index(next(x for x in lines if "shown once" in x)) + 2]
        assert fresh.startswith("pbt_") and fresh != token
        base = f"http://127.0.0.1:{port}/api/v1/me"
        assert httpx.get(base, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
        assert httpx.get(base, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_make_up_passes_arguments() -> None:
    """`make up ARGS="--port 8001"` and `make up PORT=8001` reach `patchbay up`."""
    root = Path(__file__).resolve().parents[1]
    for extra, expected in (
        (["ARGS=--port 8001 --new-token"], "patchbay up --port 8001 --new-token"),
        (["PORT=8002"], "patchbay up --port 8002"),
    ):
        out = subprocess.run(
            ["make", "-n", "-W", "pyproject.toml", "up", *extra],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        (line,) = [x for x in out.stdout.splitlines() if " up" in x and "patchbay" in x]
        assert " ".join(line.split()).endswith(expected), line
