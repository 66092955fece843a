"""``patchbay workspace show|archive|close|restore|export|export-status`` (issue 18)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_cli import CLI

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(sqlite_template: Path, tmp_path: Path) -> CLI:
    """The CLI over a migrated SQLite file (a copy of the session's template)."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    return CLI(f"sqlite:///{path}", tmp_path)


def test_lifecycle_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    cli.env["PATCHBAY_EXPORT_DIR"] = str(tmp_path / "exports")
    ws = cli.json("workspace", "create", "Acme", "--plan", "pro")["id"]
    shown = cli.json("workspace", "show", ws)
    assert shown["status"] == "active"
    assert shown["workflow_runs (day)"] == "0 / 1000"
    assert shown["active_tokens (current)"] == "0 / 5"

    refused = cli.run("workspace", "restore", ws, ok=False)
    assert refused.returncode == 1 and "workspace_status_invalid" in refused.stderr
    assert cli.json("workspace", "archive", ws)["status"] == "archived"
    assert cli.json("workspace", "show", ws)["status"] == "archived"
    export = cli.json("workspace", "export", ws)
    assert export["status"] == "queued"
    status = cli.json("workspace", "export-status", ws, export["id"])
    assert status["id"] == export["id"]
    assert cli.json("workspace", "restore", ws)["status"] == "active"
    cli.json("workspace", "archive", ws)
    closed = cli.json("workspace", "close", ws)
    assert closed["status"] == "closed" and closed["purge_after"]
    shown = cli.run("workspace", "show", ws, ok=False)
    assert shown.returncode == 1 and "workspace_inactive" in shown.stderr
    assert {w["id"]: w["status"] for w in cli.json("workspace", "list")}[ws] == "closed"
