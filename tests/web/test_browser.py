"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against the real app served by uvicorn with its job worker.

One owner session walks the whole scenario: sign in, create a token and use it over HTTP,
add a webhook endpoint, create a workflow, Run now, watch the run finish on the page, open
the delivery it caused, sign out. A viewer then sees no write buttons and a forged POST is
refused by the gate. On every page axe-core (``tests/web/package.json``; ``npm ci`` there)
must report no serious or critical issue, and the page must not scroll sideways at 375 px.
Screenshots of the main pages go to ``PATCHBAY_SCREENSHOT_DIR`` (default: a tmp dir).

With ``PATCHBAY_TEST_REQUIRE_SERVICES=1`` (CI) a missing chromium or axe-core fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from core.config import Settings
from core.db import Database, WorkspaceId
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from tests.factories import make_workspace
from tests.web.helpers import PASSWORD, add_member

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ENGINE = "postgres" if os.environ.get("PATCHBAY_TEST_DATABASE_URL") else "sqlite"
RECIPE = {
    "steps": [
        {"type": "log", "message": "Kicking off {{input.campaign}}"},
        {"type": "fire_webhook_event", "event": "campaign.kickoff",
         "payload": {"campaign": "{{input.campaign}}"}},
    ]
}  # fmt: skip


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("PATCHBAY_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(why)
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        size = int(self.headers.get("content-length") or 0)
        _Receiver.received.append(self.rfile.read(size))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    """A webhook receiver answering 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The real app (REST, MCP, dashboard, job worker) under uvicorn on a free port."""
    import uvicorn

    from patchbay.domains import platform
    from rest.app import build_app
    from web.app import mount

    def runtime() -> Runtime:
        db = Database(settings.database_url)
        return Runtime(settings=settings, db=db, limiter=RateLimiter(None), platform=platform())

    async def seed() -> None:
        rt = runtime()
        try:
            ws = await make_workspace(rt, "Acme", "pro")
            await add_member(rt, WorkspaceId(ws), "owner@acme.test", "owner")
            await add_member(rt, WorkspaceId(ws), "viewer@acme.test", "viewer")
        finally:
            await rt.close()

    anyio.run(seed)
    rt = runtime()
    port = _free_port()
    config = uvicorn.Config(
        mount(build_app(rt, with_worker=True), rt), host="127.0.0.1", port=port,
        log_level="warning", lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class Checks:
    """axe-core and the 375 px check on each page; screenshots of the main ones."""

    def __init__(self, shots: Path) -> None:
        self.shots = shots
        self.seen: list[str] = []
        self.axe_source = AXE.read_text(encoding="utf-8") + "\n;true"

    def page(self, page: Any, name: str, *, shot: bool = False) -> None:
        # evaluated (not a <script> tag): the pages' Content-Security-Policy stays in force
        page.evaluate(self.axe_source)
        violations = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.map(v => ({id: v.id, impact: v.impact,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
            }"""
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe-core on {name}: {json.dumps(bad, indent=1)}"
        if shot:
            page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 375, "height": 800})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways at 375 px by {overflow} px"
        page.set_viewport_size(size)
        self.seen.append(name)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", [ENGINE], indirect=True)
def test_the_dashboard_in_a_real_browser(served: str, receiver: str, tmp_path: Path) -> None:
    _need(Path(CHROMIUM).exists(), "chromium is not installed (apt-get install -y chromium)")
    npm = shutil.which("npm")
    if not AXE.exists() and npm:  # the pinned axe-core, as the MCP client tests install theirs
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600,
            capture_output=True,
        )  # fmt: skip
    _need(AXE.exists(), "axe-core is not installed (cd tests/web && npm ci)")
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("PATCHBAY_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    check = Checks(shots)
    base = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            owner = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            owner.set_default_timeout(20_000)
            page = owner.new_page()

            # sign in
            page.goto("/signin")
            check.page(page, "signin", shot=True)
            page.fill("#email", "owner@acme.test")
            page.fill("#password", PASSWORD)
            page.click("button:text('Sign in')")
            expect(page.locator("h1")).to_have_text("Acme")
            check.page(page, "overview")

            # create a token and use it over HTTP
            page.click("nav >> text=API tokens")
            expect(page.locator("#token-counter")).to_contain_text("0 of 5")
            page.fill("#token-name", "Integration")
            for scope in (
                "integrations:read", "integrations:write", "crm:read", "support:write",
                "conversations:write", "knowledge:write",
            ):  # fmt: skip
                page.check(f"input[name=scopes][value='{scope}']")
            page.click("button:text('Create token')")
            secret = page.input_value("#new-token")
            assert secret.startswith("pbt_")
            expect(page.locator("#token-counter")).to_contain_text("1 of 5")
            page.click("button[data-copy]")
            check.page(page, "tokens", shot=True)
            auth = {"Authorization": f"Bearer {secret}"}
            me = httpx.get(f"{base}/api/v1/me", headers=auth, timeout=10)
            assert me.status_code == 200 and me.json()["data"]["token"]["name"] == "Integration"
            registered = httpx.post(
                f"{base}/api/v1/integrations/events", headers=auth, timeout=10,
                json={"key": "campaign.kickoff", "category": "campaign",
                      "description": "A campaign started."},
            )  # fmt: skip
            assert registered.status_code == 201, registered.text
            page.click("text=I have saved it — dismiss")
            assert secret not in page.content()

            # a webhook endpoint for the workflow's event
            page.click("nav >> text=Webhooks")
            page.fill("#wh-name", "Receiver")
            page.fill("#wh-url", receiver)
            page.fill("#wh-events", "campaign.kickoff")
            page.click("button:text('Add endpoint')")
            expect(page.locator("#new-secret")).to_have_value(re.compile("^whsec_"))
            check.page(page, "webhooks")

            # a workflow, Run now, the run finishing on the page
            page.click("nav >> text=Workflows")
            page.click("text=New workflow")
            page.fill("#wf-name", "Spring kickoff")
            page.fill("#wf-recipe", '{"steps": [{"type": "nope"}]}')
            page.click("button:text('Save workflow')")
            expect(page.locator("[role=alert]")).to_be_visible()
            check.page(page, "workflow-errors")
            page.fill("#wf-recipe", json.dumps(RECIPE, indent=2))
            page.click("button:text('Save workflow')")
            expect(page.locator("[role=status]")).to_have_text("Workflow saved.")
            workflow_url = page.url.split("?")[0]
            check.page(page, "workflow", shot=True)
            page.click("summary:text('Run now')")
            page.fill("#run-input", '{"campaign": "Spring"}')
            page.click("button:text('Yes, run it')")
            expect(page.locator("[role=status]")).to_have_text("Workflow run queued.")
            expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
            expect(page.locator("#run-progress")).to_contain_text("Kicking off Spring")
            check.page(page, "run", shot=True)
            page.click("nav >> text=Runs")
            expect(page.locator("table")).to_contain_text("owner@acme.test")
            check.page(page, "runs")

            # the delivery the run caused
            page.click("nav >> text=Webhooks")
            page.click("text=Receiver")
            deadline = time.monotonic() + 60
            while "succeeded" not in page.inner_text(".deliveries"):
                assert time.monotonic() < deadline, "the delivery never arrived"
                time.sleep(0.5)
                page.reload()
            page.click(".deliveries summary >> nth=0")
            expect(page.locator(".deliveries details[open]")).to_contain_text("200")
            check.page(page, "webhook")
            page.click(".deliveries details[open] >> text=Payload and response body")
            expect(page.locator("#payload")).to_contain_text('"campaign": "Spring"')
            expect(page.locator("#response-body")).to_contain_text('{"ok": true}')
            expect(page.locator("#response-code")).to_have_text("200")
            assert any(b"Spring" in body for body in _Receiver.received)
            check.page(page, "delivery", shot=True)

            # the support desk, knowledge, agents and conversations (seeded over REST)
            def api(path: str, body: dict[str, Any]) -> dict[str, Any]:
                answer = httpx.post(f"{base}/api/v1{path}", headers=auth, json=body, timeout=10)
                assert answer.status_code == 201, answer.text
                return dict(answer.json()["data"])

            queue = api("/support/queues", {"key": "billing", "name": "Billing"})
            ticket = api(
                "/support/tickets",
                {"subject": "Refund my invoice", "queue_id": queue["id"], "priority": "high"},
            )
            api(f"/support/tickets/{ticket['id']}/messages",
                {"body": "Please refund invoice 42.", "direction": "inbound"})  # fmt: skip
            collection = api("/knowledge/collections", {"name": "Help centre"})
            page.click("nav >> text=Knowledge")
            page.click("text=New article")
            page.fill("#ka-title", "Refund policy")
            page.fill("#ka-body", "Refunds within 30 days of the invoice.")
            page.click("button:text('Save article')")
            expect(page.locator("[role=status]")).to_have_text("Saved.")
            check.page(page, "article")
            page.click("nav >> text=Knowledge")
            expect(page.locator("table")).to_contain_text("Refund policy")
            check.page(page, "knowledge")
            page.click("nav >> text=Agents")
            page.fill("#ag-name", "Sales bot")
            page.select_option("#ag-collection", collection["id"])
            page.click("button:text('Create agent')")
            expect(page.locator("[role=status]")).to_have_text("Saved.")
            check.page(page, "agent")
            agent_id = page.url.split("/agents/")[1].split("?")[0]
            conversation = api(
                "/conversations", {"agent_id": agent_id, "subject": "Pricing question"}
            )
            api(f"/conversations/{conversation['id']}/messages",
                {"author_type": "contact", "body": "How much is pro?"})  # fmt: skip
            page.click("nav >> text=Agents")
            check.page(page, "agents")
            page.click("nav >> text=Tickets")
            check.page(page, "tickets")
            page.click("table >> text=Refund my invoice")
            page.fill("#reply-body", "Refunded today.")
            page.click("button:text('Send reply')")
            expect(page.locator("#thread")).to_contain_text("Refunded today.")
            page.fill("#comment-body", "VIP customer")
            page.check("input[name=pinned]")
            page.click("button:text('Add comment')")
            expect(page.locator("#comments")).to_contain_text("VIP customer")
            ticket_url = page.url.split("?")[0]
            check.page(page, "ticket", shot=True)
            page.click("nav >> text=Conversations")
            check.page(page, "conversations")
            page.click("table >> text=Pricing question")
            page.fill("#note-body", "Hot lead")
            page.click("button:text('Add note')")
            expect(page.locator("#notes")).to_contain_text("Hot lead")
            expect(page.locator("#transcript")).to_contain_text("How much is pro?")
            check.page(page, "conversation", shot=True)

            for name, label in (("members", "Members"), ("audit", "Audit log"), ("usage", "Usage")):
                page.click(f"nav >> text={label}")
                check.page(page, name, shot=True)
            expect(page.locator("svg.chart")).to_have_count(2)
            expect(page.locator("table.meters")).to_contain_text("Workflow runs")
            page.goto("/docs")  # linked from the nav: the API reference
            assert page.title()

            # sign out
            page.goto("/")
            page.click("button:text('Sign out')")
            expect(page.locator("[role=status]")).to_have_text("You are signed out.")
            page.goto("/tokens")
            assert "/signin" in page.url
            owner.close()

            # a viewer: no write buttons; a forged POST is refused by the gate
            viewer = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            page = viewer.new_page()
            page.goto("/signin")
            page.fill("#email", "viewer@acme.test")
            page.fill("#password", PASSWORD)
            page.click("button:text('Sign in')")
            expect(page.locator("nav")).not_to_contain_text("API tokens")
            page.goto(workflow_url)
            expect(page.locator("h1")).to_have_text("Spring kickoff")
            assert page.locator("text=Run now").count() == 0
            assert page.locator("text=Save workflow").count() == 0
            check.page(page, "workflow-viewer")
            forged = page.evaluate(
                """async (url) => {
                    const csrf = document.querySelector('input[name=csrf_token]').value;
                    const r = await fetch(url + '/run', {method: 'POST',
                        body: new URLSearchParams({csrf_token: csrf, input: '{}'})});
                    return [r.status, await r.text()];
                }""",
                workflow_url,
            )
            assert forged[0] == 403 and "scope_missing" in forged[1]
            page.goto(ticket_url)
            expect(page.locator("#thread")).to_contain_text("Refunded today.")
            assert page.locator("text=Send reply").count() == 0
            assert page.locator("text=Add comment").count() == 0
            check.page(page, "ticket-viewer")
            viewer.close()
        finally:
            browser.close()
    print(f"screenshots: {shots}")
