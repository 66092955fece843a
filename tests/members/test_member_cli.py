"""``patchbay member invite | list | reset-password`` as a real subprocess, and the demo
owner that ``patchbay up`` creates."""

from __future__ import annotations

import pytest

from core.members import service
from core.runtime import Runtime
from patchbay.demo import DEMO_OWNER_EMAIL, ensure_demo
from tests.test_cli import CLI, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_invite_list_and_reset_from_the_command_line(cli: CLI) -> None:  # noqa: F811
    cli.run("db", "upgrade")
    ws = cli.json("workspace", "create", "Acme", "--plan", "pro")["id"]
    out = cli.run("member", "invite", "--workspace", ws, "--email", "ann@example.com",
                  "--role", "admin").stdout  # fmt: skip
    link = out.strip().splitlines()[-1]
    assert link.startswith(f"http://127.0.0.1:8000/invitations/{ws}.")
    listed = cli.json("member", "list", "--workspace", ws)
    assert [(m["email"], m["role"], m["status"]) for m in listed] == [
        ("ann@example.com", "admin", "invited")
    ]
    bad = cli.run("member", "invite", "--workspace", ws, "--email", "x@y.io", "--role", "boss",
                  ok=False)  # fmt: skip
    assert bad.returncode == 1 and "validation_error" in bad.stderr
    reset = cli.json("member", "reset-password", "ann@example.com")
    assert reset["url"].startswith("http://127.0.0.1:8000/reset-password/")
    missing = cli.run("member", "reset-password", "nobody@example.com", ok=False)
    assert missing.returncode == 1 and "member_not_found" in missing.stderr


async def test_the_demo_workspace_gets_an_owner_once(runtime: Runtime) -> None:
    first = await ensure_demo(runtime)
    assert first.owner_email == DEMO_OWNER_EMAIL and first.owner_password
    again = await ensure_demo(runtime)
    assert again.workspace_id == first.workspace_id and again.owner_password is None
    async with runtime.db.session() as session:
        person = await service.sign_in(
            session, runtime.limiter, DEMO_OWNER_EMAIL, first.owner_password, ip="127.0.0.1"
        )
    async with runtime.db.session(first.workspace_id) as session:
        scopes = await service.effective_scopes(session, first.workspace_id, person.id)
    assert "workspace:admin" in scopes
