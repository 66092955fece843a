"""The ``patchbay`` command line (SPEC §9), run as a real subprocess."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.runtime import Runtime
from rest.app import build_app
from tests.conftest import PG_URL, _admin_execute, need_service
from tests.domains import suite_platform as platform

pytestmark = pytest.mark.slow

PATCHBAY = shutil.which("patchbay") or str(Path(sys.executable).with_name("patchbay"))


class CLI:
    def __init__(self, database_url: str, cwd: Path) -> None:
        self.database_url = database_url
        self.cwd = cwd
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PATCHBAY_") or k.startswith("PATCHBAY_TEST_")
        }
        self.env.update(
            PATCHBAY_DATABASE_URL=database_url, COLUMNS="200", NO_COLOR="1", TERM="dumb"
        )

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [PATCHBAY, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture(params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CLI]:
    """The CLI over a brand-new, empty database."""
    if request.param == "sqlite":
        yield CLI(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
        return
    admin_url = need_service(PG_URL, "database")
    name = f"pbcli_{secrets.token_hex(4)}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield CLI(f"{admin_url.rsplit('/', 1)[0]}/{name}", tmp_path)
    finally:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated(sqlite_template: Path, tmp_path: Path) -> CLI:
    """The CLI over a migrated SQLite file (a copy of the session's template)."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    return CLI(f"sqlite:///{path}", tmp_path)


async def me(database_url: str, token: str) -> httpx.Response:
    settings = Settings(database_url=database_url, redis_url=None, _env_file=None)  # type: ignore[call-arg]
    app = build_app(Runtime.create(settings, platform()))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        await app.state.runtime.close()


async def test_workspace_and_token_lifecycle(cli: CLI) -> None:
    upgraded = cli.json("db", "upgrade")
    assert upgraded["status"] == "upgraded"
    assert "@" not in upgraded["database"] or "***" in upgraded["database"]

    ws = cli.json("workspace", "create", "Acme Corp", "--plan", "pro")
    assert ws["id"].startswith("wrk_") and ws["plan"] == "pro" and ws["status"] == "active"
    cli.json("workspace", "create", "Small Co")  # default plan: starter
    listed = cli.json("workspace", "list")
    assert {w["name"]: w["plan"] for w in listed} == {"Acme Corp": "pro", "Small Co": "starter"}

    created = cli.json(
        "token",
        "create",
        "--workspace",
        ws["id"],
        "--name",
        "ci",
        "--scopes",
        "crm:read,workspace:admin",
    )
    token = created["token"]
    assert token.startswith("pbt_") and created["id"].startswith("tok_")
    assert created["scopes"] == ["crm:read", "workspace:admin"]
    assert created["abilities"] == ["api:rest", "api:mcp"]

    r = await me(cli.database_url, token)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["workspace"]["id"] == ws["id"]

    tokens_out = cli.run("token", "list", "--workspace", ws["id"], "--json").stdout
    secret = token.split("_", 2)[2]
    assert token not in tokens_out and secret not in tokens_out
    (listed_token,) = json.loads(tokens_out)
    assert listed_token["id"] == created["id"] and "token" not in listed_token
    assert "token_hash" not in listed_token
    human = cli.run("token", "list", "--workspace", ws["id"]).stdout
    assert secret not in human and "ci" in human

    moved = cli.json("workspace", "set-plan", ws["id"], "starter")
    assert moved["plan"] == "starter"
    r = await me(cli.database_url, token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "tier_not_entitled"
    cli.json("workspace", "set-plan", ws["id"], "custom")
    assert (await me(cli.database_url, token)).status_code == 200

    revoked = cli.json("token", "revoke", created["id"])
    assert revoked["id"] == created["id"] and revoked["revoked_at"]
    r = await me(cli.database_url, token)
    assert r.status_code == 401


async def test_token_create_without_json_prints_token_once(migrated: CLI) -> None:
    cli = migrated
    ws = cli.json("workspace", "create", "Acme", "--plan", "custom")
    proc = cli.run(
        "token", "create", "--workspace", ws["id"], "--name", "me", "--scopes", "*",
        "--abilities", "api:rest", "--expires-days", "3",
    )  # fmt: skip
    token = proc.stdout.strip().splitlines()[-1]
    assert token.startswith("pbt_")
    assert proc.stdout.count(token) == 1
    data = (await me(cli.database_url, token)).json()["data"]
    assert data["token"]["abilities"] == ["api:rest", f"tenant:{data['tenant']['id']}"]
    assert data["token"]["expires_at"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["workspace", "create", "X", "--plan", "enterprise"], "enterprise"),
        (["workspace", "set-plan", "wrk_00000000000000000000000000", "pro"], "not found"),
        (
            ["token", "create", "--workspace", "wrk_00000000000000000000000000", "--name", "n",
             "--scopes", "crm:read"],
            "not found",
        ),
        (["token", "revoke", "tok_00000000000000000000000000"], "not found"),
    ],
    ids=["unknown-plan", "set-plan-unknown-workspace", "token-unknown-workspace", "revoke-unknown"],
)  # fmt: skip
def test_errors_exit_non_zero_with_a_message(migrated: CLI, args: list[str], message: str) -> None:
    proc = migrated.run(*args, "--json", ok=False)
    assert proc.returncode != 0
    assert message in proc.stderr.lower()
    assert proc.stdout.strip() == ""
    assert "Traceback" not in proc.stderr


def test_bad_scopes_exit_non_zero(migrated: CLI) -> None:
    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")
    bad = migrated.run(
        "token", "create", "--workspace", ws["id"], "--name", "n", "--scopes", "crm:destroy",
        ok=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "crm:destroy" in bad.stderr
    assert migrated.json("token", "list", "--workspace", ws["id"]) == []


def test_invalid_database_url_is_a_clear_error(tmp_path: Path) -> None:
    cli = CLI("mysql://nope", tmp_path)
    proc = cli.run("workspace", "list", ok=False)
    assert proc.returncode != 0
    assert "PATCHBAY_DATABASE_URL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = CLI(f"sqlite:///{tmp_path / 'x.db'}", tmp_path).run("--help").stdout
    for command in ("up", "serve", "db", "workspace", "token"):
        assert command in out


async def audit_rows(database_url: str, workspace_id: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from core.audit.models import AuditEntry
    from core.db import WorkspaceId

    runtime = Runtime.create(
        Settings(database_url=database_url, redis_url=None, _env_file=None),  # type: ignore[call-arg]
        platform(),
    )
    try:
        ws = WorkspaceId(workspace_id)
        async with runtime.db.session(ws, read_only=True) as session:
            rows = await session.execute(
                sa.select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
            )
            keys = ("channel", "operation", "token_id", "token_name", "status", "outcome")
            return [{k: getattr(r, k) for k in keys} for r in rows.scalars()]
    finally:
        await runtime.close()


async def test_the_cli_goes_through_the_gate(migrated: CLI) -> None:
    """Channel cli: the same checks and audit rows as REST and MCP (no second copy of the
    plan check in a service): a starter workspace cannot create a workflow, and every
    call, refused or not, is in the audit log as the operator's."""
    starter = migrated.json("workspace", "create", "Small Co", "--plan", "starter")
    recipe = migrated.cwd / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"type": "log", "message": "hi"}]}))
    refused = migrated.run(
        "workflow", "create", "--workspace", starter["id"], "--name", "W",
        "--recipe", str(recipe), ok=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "tier_not_entitled" in refused.stderr

    migrated.json("token", "create", "--workspace", starter["id"], "--name", "t",
                  "--scopes", "crm:read")  # fmt: skip
    bad = migrated.run(
        "token", "create", "--workspace", starter["id"], "--name", "a\nb", "--scopes",
        "crm:read", ok=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "validation_error" in bad.stderr  # the gate's validation

    rows = await audit_rows(migrated.database_url, starter["id"])
    assert {(r["operation"], r["outcome"]) for r in rows} == {
        ("create_workflow", "tier_not_entitled"),
        ("create_token", "ok"),
        ("create_token", "validation_error"),
    }
    assert all(r["channel"] == "cli" and r["token_id"] is None for r in rows)
    assert {r["token_name"] for r in rows} == {"command line"}
    unknown = migrated.run("token", "list", "--workspace", "wrk_nope", ok=False)
    assert unknown.returncode == 2 and "workspace_not_found" in unknown.stderr


async def test_token_create_sets_a_rate_limit_through_the_gate(migrated: CLI) -> None:
    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")
    created = migrated.json(
        "token", "create", "--workspace", ws["id"], "--name", "slow", "--scopes", "crm:read",
        "--rate-limit", "7",
    )  # fmt: skip
    r = await me(migrated.database_url, created["token"])
    assert r.headers["X-RateLimit-Limit"] == "7"


# ---------------------------------------------------------------- issue 15: the first hour


def test_an_unknown_workspace_is_a_usage_error_everywhere(migrated: CLI) -> None:
    recipe = migrated.cwd / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"type": "log", "message": "hi"}]}))
    nope = "wrk_nope"
    for args in (
        ["token", "list", "--workspace", nope],
        ["token", "create", "--workspace", nope, "--name", "n", "--scopes", "crm:read"],
        ["workflow", "list", "--workspace", nope],
        ["workflow", "create", "--workspace", nope, "--name", "W", "--recipe", str(recipe)],
        ["workflow", "run", "wf_x", "--workspace", nope],
        ["workflow", "runs", "wf_x", "--workspace", nope],
        ["run", "show", "run_x", "--workspace", nope],
        ["workspace", "set-plan", nope, "pro"],
    ):
        proc = migrated.run(*args, *(["--json"] if "create" in args else []), ok=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "workspace_not_found" in proc.stderr and nope in proc.stderr, args
        assert "workspace list" in proc.stderr and proc.stdout == "", args


def test_json_goes_before_or_after_the_command(migrated: CLI) -> None:
    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")
    before = json.loads(migrated.run("--json", "workspace", "list").stdout)
    after = json.loads(migrated.run("workspace", "list", "--json").stdout)
    assert before == after and [w["id"] for w in before] == [ws["id"]]
    created = json.loads(
        migrated.run(
            "--json", "token", "create", "--workspace", ws["id"], "--name", "t",
            "--scopes", "crm:read",
        ).stdout
    )  # fmt: skip
    assert created["token"].startswith("pbt_") and created["scopes"] == ["crm:read"]


@pytest.mark.parametrize("columns", ["40", "80"])
def test_tables_never_cut_ids_or_codes(migrated: CLI, columns: str) -> None:
    ws = migrated.json(
        "workspace", "create", "A workspace with a rather long name", "--plan", "pro"
    )
    recipe = migrated.cwd / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"type": "log", "message": "hi"}]}))
    wf = migrated.json(
        "workflow", "create", "--workspace", ws["id"], "--name", "W", "--recipe", str(recipe)
    )
    run = migrated.json("workflow", "run", wf["id"], "--workspace", ws["id"])
    tokens = [
        migrated.json(
            "token", "create", "--workspace", ws["id"], "--name", f"token number {i}",
            "--scopes", "*",
        )
        for i in range(2)
    ]  # fmt: skip
    migrated.env["COLUMNS"] = columns
    assert ws["id"] in migrated.run("workspace", "set-plan", ws["id"], "pro").stdout
    shown = migrated.run("workspace", "list").stdout
    assert ws["id"] in shown
    shown = migrated.run("token", "list", "--workspace", ws["id"]).stdout
    for token in tokens:
        assert token["id"] in shown and token["preview"] in shown
    shown = migrated.run("workflow", "list", "--workspace", ws["id"]).stdout
    assert wf["id"] in shown
    shown = migrated.run("workflow", "runs", wf["id"]).stdout
    assert run["id"] in shown
    shown = migrated.run("run", "show", run["id"]).stdout
    assert run["id"] in shown and wf["id"] in shown
    assert all(len(line) <= int(columns) for line in shown.splitlines())
    # A refused run: its error code is shown whole too.
    refused = migrated.run(
        "workflow", "run", wf["id"], "--workspace", ws["id"], "--input", "[1]", ok=False
    )
    assert refused.returncode == 2 and "validation_error" in refused.stderr


def test_scopes_command_wildcards_and_the_scope_error(migrated: CLI) -> None:
    from core.scopes import ALL_SCOPES, SCOPE_WILDCARDS

    listed = migrated.json("scopes")
    assert sorted(s for row in listed for s in row["scopes"]) == sorted(ALL_SCOPES)
    assert [row["wildcard"] for row in listed] == list(SCOPE_WILDCARDS)
    human = migrated.run("scopes").stdout
    assert all(scope in human for scope in ALL_SCOPES)

    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")
    created = migrated.json(
        "token", "create", "--workspace", ws["id"], "--name", "t",
        "--scopes", "tasks:*,workflows:read|run",
    )  # fmt: skip
    assert created["scopes"] == ["tasks:read", "tasks:write", "workflows:read", "workflows:run"]
    bad = migrated.run(
        "token", "create", "--workspace", ws["id"], "--name", "n", "--scopes", "tasks:all",
        ok=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "tasks:all" in bad.stderr
    flat = " ".join(bad.stderr.split())
    assert "crm:read" in flat and "workspace:admin" in flat and "tasks:*" in flat
    # Without --json the token is alone on stdout: `export TOKEN=$(patchbay token create …)`.
    plain = migrated.run(
        "token", "create", "--workspace", ws["id"], "--name", "p", "--scopes", "crm:*"
    )
    assert plain.stdout.strip().startswith("pbt_") and len(plain.stdout.split()) == 1
    assert "shown once" in " ".join(plain.stderr.split()).lower()


def test_workflow_runs_and_run_show(migrated: CLI) -> None:
    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")
    recipe = migrated.cwd / "recipe.json"
    recipe.write_text(json.dumps({"steps": [{"type": "log", "message": "hi"}]}))
    wf = migrated.json(
        "workflow", "create", "--workspace", ws["id"], "--name", "W", "--recipe", str(recipe)
    )
    assert migrated.json("workflow", "runs", wf["id"]) == []
    first = migrated.json("workflow", "run", wf["id"], "--workspace", ws["id"])
    second = migrated.json("workflow", "run", wf["id"], "--workspace", ws["id"])
    runs = migrated.json("workflow", "runs", wf["id"], "--workspace", ws["id"])
    assert [r["id"] for r in runs] == [second["id"], first["id"]]
    assert migrated.json("workflow", "runs", wf["id"], "--status", "succeeded") == []
    shown = migrated.json("run", "show", first["id"])
    assert shown["id"] == first["id"] and shown["status"] == "queued" and shown["steps"] == []
    missing = migrated.run("run", "show", "run_nope", ok=False)
    assert missing.returncode == 1 and "workflow_run_not_found" in missing.stderr
    missing = migrated.run("workflow", "runs", "wf_nope", ok=False)
    assert missing.returncode == 1 and "workflow_not_found" in missing.stderr


def test_a_waiting_delay_reads_waiting_until() -> None:
    from patchbay.cli import step_detail, step_line

    waiting = {
        "index": 1,
        "type": "delay",
        "status": "waiting",
        "started_at": "2026-01-01T10:00:00Z",
        "resume_at": "2026-01-01T10:00:05Z",
        "output": {"seconds": 5, "resume_at": "2026-01-01T10:00:05Z"},
    }
    assert step_line(waiting) == "step 1 delay: waiting until 2026-01-01T10:00:05Z"
    done = {**waiting, "status": "succeeded", "finished_at": "2026-01-01T10:00:05Z"}
    assert step_line(done) == "step 1 delay: succeeded"
    assert "waiting" not in step_detail(done)


def test_workflow_create_help_documents_the_recipe_format(tmp_path: Path) -> None:
    cli = CLI(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    out = " ".join(cli.run("workflow", "create", "--help").stdout.split())
    for text in (
        '"type": "log"',
        '"type": "delay"',
        '"type": "fire_webhook_event"',
        "continue_on_error",
        "{{input.key}}",
        "1-50 steps",
        "1-30 s",
        "Example",
    ):
        assert text in out, text
