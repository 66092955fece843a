"""Password reset links by mail: the reset page and ``patchbay member reset-password`` send
them through ``PATCHBAY_SMTP_*`` (here an in-process ``aiosmtpd`` server)."""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.runtime import Runtime
from tests.factories import Tenant
from tests.test_cli import CLI, migrated  # noqa: F401  (the fixture)
from tests.web.helpers import add_member, csrf_of, sign_in


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        ok = auth.login == b"patchbay" and auth.password == b"s3cret"
        inbox.logins.append(auth.login.decode())
        return AuthResult(success=ok)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _link(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"(http\S+/reset-password/\S+)", body.decode())
    assert found, body
    return found.group(1)


async def test_the_reset_page_mails_the_link(
    runtime: Runtime, tenant: Tenant, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    settings = runtime.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_from": "Patchbay <noreply@acme.test>",
            "smtp_username": "patchbay",
            "smtp_password": SecretStr("s3cret"),
        }
    )
    mailing = dataclasses.replace(runtime, settings=settings)
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    from rest.app import build_app
    from web.app import mount

    app = mount(build_app(mailing), mailing)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        for email in ("Owner@Acme.test", "nobody@acme.test"):
            page = await browser.get("/reset-password")
            asked = await browser.post(
                "/reset-password", data={"csrf_token": csrf_of(page.text), "email": email}
            )
            # the same answer whether or not the account exists
            assert (
                asked.status_code == 200
                and "a reset link (valid 1 hour) is on its way" in asked.text
            )
        assert len(inbox.messages) == 1 and inbox.logins == ["patchbay"]
        message = inbox.messages[0]
        assert (
            message["To"] == "owner@acme.test" and message["From"] == "Patchbay <noreply@acme.test>"
        )
        path = _link(message).removeprefix("http://testserver")
        form = await browser.get(path)
        done = await browser.post(
            path,
            data={
                "csrf_token": csrf_of(form.text),
                "password": "mailed password 1",
                "password_again": "mailed password 1",
            },
        )
        assert done.status_code == 303
        assert (await sign_in(browser, "owner@acme.test", "mailed password 1")).status_code == 303


@pytest.mark.slow
def test_the_command_line_mails_the_link_when_smtp_is_set(
    migrated: CLI,  # noqa: F811
    smtp: tuple[int, Inbox],
    tmp_path: Path,
) -> None:
    port, inbox = smtp
    ws = migrated.json("workspace", "create", "Acme", "--plan", "pro")["id"]
    migrated.run("member", "invite", "--workspace", ws, "--email", "ann@example.com")
    printed = migrated.run("member", "reset-password", "ann@example.com").stdout
    assert "/reset-password/" in printed and not inbox.messages  # no SMTP: printed
    migrated.env.update(
        PATCHBAY_SMTP_HOST="127.0.0.1", PATCHBAY_SMTP_PORT=str(port), PATCHBAY_SMTP_STARTTLS="false"
    )
    mailed = migrated.run("member", "reset-password", "ann@example.com").stdout
    assert "mailed to ann@example.com" in mailed and "/reset-password/" not in mailed
    assert [m["To"] for m in inbox.messages] == ["ann@example.com"]
    assert _link(inbox.messages[0]).startswith("http://127.0.0.1:8000/reset-password/")
