"""The dashboard over HTTP (httpx against the ASGI app): sessions and their cookie, CSRF,
roles (what a page shows; what the gate refuses), invitations, password resets (printed
or mailed), sign-in throttling, and domain actions going through the gate."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import select

from core.audit.models import AuditEntry
from core.members import service
from core.members.schemas import InviteMemberIn
from core.runtime import Runtime
from tests.factories import Tenant, owner_session
from tests.web.helpers import PASSWORD, add_member, csrf_of, post_form, sign_in


async def test_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    for path in ("/", "/tokens", "/workflows", "/runs", "/webhooks", "/audit", "/usage"):
        answer = await browser.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/signin")


async def test_sign_in_sets_a_safe_cookie_and_sign_out_revokes_it(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    answer = await sign_in(browser, "owner@acme.test")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(
        v
        for k, v in answer.headers.multi_items()
        if k == "set-cookie" and v.startswith("pb_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    home = await browser.get("/")
    assert home.status_code == 200 and "owner@acme.test" in home.text
    assert "Acme" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-store"
    stolen = browser.cookies.get("pb_session")
    out = await browser.post("/signout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    assert (await browser.get("/")).status_code == 303
    # the old cookie is dead server-side too, not only deleted in this browser
    browser.cookies.set("pb_session", stolen or "")
    assert (await browser.get("/")).status_code == 303


async def test_the_cookie_is_secure_over_https(
    runtime: Runtime, tenant: Tenant, web_app: object
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    transport = httpx.ASGITransport(app=web_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        answer = await sign_in(c, "owner@acme.test")
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


async def test_a_wrong_password_and_throttling(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    wrong = await sign_in(browser, "owner@acme.test", "not the password")
    assert wrong.status_code == 401 and "The email or password is not right." in wrong.text
    for _ in range(4):
        await sign_in(browser, "owner@acme.test", "not the password")
    throttled = await sign_in(browser, "owner@acme.test")  # right password, still refused
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    assert "pb_session" not in browser.cookies


async def test_forms_without_the_csrf_token_are_refused(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    # signed out: the double-submit cookie must match the form
    forged = await browser.post("/signin", data={"email": "owner@acme.test", "password": PASSWORD})
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    await sign_in(browser, "owner@acme.test")
    for token in (None, "0" * 64):
        data = {"name": "forged", "scopes": "crm:read"}
        if token:
            data["csrf_token"] = token
        refused = await browser.post("/tokens", data=data)
        assert refused.status_code == 403 and "csrf_failed" in refused.text
    tokens = (await browser.get("/tokens")).text
    assert "forged" not in tokens


async def test_a_token_created_on_the_page_works_over_rest_and_is_audited(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    page = await browser.get("/tokens")
    assert "The REST API is included with your plan" in page.text
    assert "1 of 5" in page.text  # the tenant fixture's token
    created = await browser.post(
        "/tokens",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Zapier",
            "scopes": ["crm:read", "crm:write"],
            "abilities": "api:rest",
        },
    )
    assert created.status_code == 201, created.text[:2000]
    token = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', created.text)
    assert token and "I have saved it — dismiss" in created.text and "2 of 5" in created.text
    me = await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert me.status_code == 200 and me.json()["data"]["token"]["name"] == "Zapier"
    assert token.group(1) not in (await browser.get("/tokens")).text  # shown once
    async with owner_session(runtime) as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.workspace_id == tenant.workspace_id,
                        AuditEntry.operation == "create_token",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.channel, r.token_name, r.token_id, r.outcome) for r in rows] == [
        ("dashboard", "owner@acme.test", None, "ok")
    ]
    # rotate: a new secret shown once, the old one dead
    token_id = me.json()["data"]["token"]["id"]
    page = await browser.get("/tokens")
    rotated = await browser.post(
        f"/tokens/{token_id}/rotate", data={"csrf_token": csrf_of(page.text)}
    )
    assert rotated.status_code == 200 and "I have saved it — dismiss" in rotated.text
    fresh = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', rotated.text)
    assert fresh and fresh.group(1) != token.group(1)
    old = await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert old.status_code == 401
    me = await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.group(1)}"})
    assert me.status_code == 200
    # revoke, with the confirmation form
    token_id = me.json()["data"]["token"]["id"]
    page = await browser.get("/tokens")
    revoked = await browser.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)}
    )
    assert revoked.status_code == 303
    again = await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.group(1)}"})
    assert again.status_code == 401


async def test_a_viewer_sees_no_write_buttons_and_the_gate_refuses_a_forged_post(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await add_member(runtime, tenant.workspace_id, "viewer@acme.test", "viewer")
    owner = browser
    await sign_in(owner, "owner@acme.test")
    saved = await post_form(
        owner,
        "/workflows/new",
        "/workflows",
        {
            "name": "Greeter",
            "status": "active",
            "recipe": '{"steps": [{"type": "log", "message": "hi"}]}',
        },
    )
    assert saved.status_code == 303, saved.text[:2000]
    workflow_path = saved.headers["location"].split("?")[0]
    await owner.post("/signout", data={"csrf_token": csrf_of((await owner.get("/")).text)})

    await sign_in(browser, "viewer@acme.test")
    home = await browser.get("/")
    assert 'href="/tokens"' not in home.text and 'href="/audit"' not in home.text
    page = await browser.get(workflow_path)
    assert page.status_code == 200 and "Greeter" in page.text
    assert "Run now" not in page.text and "Save workflow" not in page.text
    assert "New workflow" not in (await browser.get("/workflows")).text
    assert "Add an endpoint" not in (await browser.get("/webhooks")).text
    forged = await browser.post(workflow_path + "/run", data={"csrf_token": csrf_of(page.text)})
    assert forged.status_code == 403 and "scope_missing" in forged.text
    denied = await browser.get("/tokens")
    assert denied.status_code == 403 and "scope_missing" in denied.text
    async with owner_session(runtime) as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.workspace_id == tenant.workspace_id,
                        AuditEntry.operation == "trigger_workflow",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.channel, r.token_name, r.outcome) for r in rows] == [
        ("dashboard", "viewer@acme.test", "scope_missing")
    ]


async def test_workflow_editor_errors_run_now_and_the_run_page(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "admin@acme.test", "admin")
    await sign_in(browser, "admin@acme.test")
    bad = await post_form(
        browser,
        "/workflows/new",
        "/workflows",
        {"name": "Broken", "status": "active", "recipe": '{"steps": [{"type": "nope"}]}'},
    )
    assert bad.status_code in (400, 422) and 'role="alert"' in bad.text
    assert "nope" in bad.text  # the recipe as typed is kept in the editor
    not_json = await post_form(
        browser,
        "/workflows/new",
        "/workflows",
        {"name": "Broken", "status": "active", "recipe": "{steps"},
    )
    assert not_json.status_code == 400 and "not valid JSON" in not_json.text
    saved = await post_form(
        browser,
        "/workflows/new",
        "/workflows",
        {
            "name": "Greeter",
            "status": "active",
            "recipe": '{"steps": [{"type": "log", "message": "hi {{input.who}}"}]}',
        },
    )
    path = saved.headers["location"].split("?")[0]
    page = await browser.get(path)
    assert "Run now" in page.text
    run = await browser.post(
        path + "/run", data={"csrf_token": csrf_of(page.text), "input": '{"who": "Ada"}'}
    )
    assert run.status_code == 303 and run.headers["location"].startswith("/runs/run_")
    shown = await browser.get(run.headers["location"])
    assert "Workflow run queued" in shown.text and "admin@acme.test" in shown.text
    assert "data-poll=" in shown.text  # still queued: the page polls its progress
    fragment = await browser.get(run.headers["location"].split("?")[0] + "?fragment=1")
    assert fragment.text.lstrip().startswith('<section id="run-progress"')
    runs = await browser.get("/runs")
    assert "admin@acme.test" in runs.text and "0 of 1 done" in runs.text
    from core.db import utcnow

    usage = await browser.get("/usage")
    today = utcnow().date().isoformat()
    assert f"<title>{today}: 1</title>" in usage.text  # today's bar of the runs chart
    assert "Workflow runs today</dt><dd>1 of 1000" in usage.text


async def test_an_invitation_is_accepted_on_its_page(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    async with runtime.db.session(tenant.workspace_id) as session:
        invited = await service.invite_member(
            session,
            tenant.workspace_id,
            InviteMemberIn(email="new@acme.test", role="member"),
            base_url="http://testserver",
        )
    path = invited.invitation_url.removeprefix("http://testserver")
    page = await browser.get(path)
    short = await browser.post(path, data={"csrf_token": csrf_of(page.text), "password": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    joined = await browser.post(path, data={"csrf_token": csrf_of(page.text), "password": PASSWORD})
    assert joined.status_code == 303
    home = await browser.get("/")
    assert "new@acme.test" in home.text and "(member)" in home.text
    await browser.post("/signout", data={"csrf_token": csrf_of(home.text)})
    again = await browser.post(path, data={"csrf_token": csrf_of(page.text), "password": PASSWORD})
    assert again.status_code == 401 and "invalid, used, revoked or expired" in again.text


async def test_password_reset_without_smtp(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    asked = await post_form(
        browser, "/reset-password", "/reset-password", {"email": "owner@acme.test"}
    )
    assert (
        asked.status_code == 200 and "patchbay member reset-password owner@acme.test" in asked.text
    )
    async with runtime.db.session() as session:
        link = await service.request_password_reset(
            session, "owner@acme.test", base_url="http://testserver"
        )
    assert link is not None
    path = link.url.removeprefix("http://testserver")
    page = await browser.get(path)
    differ = await browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": "a new password 1",
            "password_again": "other one 123",
        },
    )
    assert differ.status_code == 400 and "differ" in differ.text
    done = await browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": "a new password 1",
            "password_again": "a new password 1",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/signin?reset=1"
    assert (await sign_in(browser, "owner@acme.test")).status_code == 401
    assert (await sign_in(browser, "owner@acme.test", "a new password 1")).status_code == 303
    used = await browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": "third password",
            "password_again": "third password",
        },
    )
    assert used.status_code in (401, 303)


async def test_webhooks_audit_and_usage_pages(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    created = await post_form(
        browser,
        "/webhooks",
        "/webhooks",
        {"name": "Receiver", "url": "http://127.0.0.1:9/hook", "event_types": "contact.created"},
    )
    assert created.status_code == 201, created.text[:2000]
    assert "whsec_" in created.text and "I have saved it — dismiss" in created.text
    listing = await browser.get("/webhooks")
    endpoint = re.search(r'href="(/webhooks/whk_[^"]+)"', listing.text) or re.search(
        r'href="(/webhooks/[a-z]+_[^"]+)"', listing.text
    )
    assert endpoint
    tested = await post_form(browser, endpoint.group(1), endpoint.group(1) + "/test", {})
    assert tested.status_code == 303
    page = await browser.get(tested.headers["location"])
    assert "Test event queued" in page.text and "<details" in page.text
    audit = await browser.get("/audit?channel=dashboard")
    assert "send_test_webhook_event" in audit.text and "owner@acme.test" in audit.text
    assert "create_token" not in audit.text
    from core.db import utcnow

    today = utcnow().date().isoformat()
    dated = await browser.get("/audit", params={"since": today, "until": today})
    assert dated.status_code == 200 and "send_test_webhook_event" in dated.text
    past = await browser.get("/audit", params={"until": "2001-01-01"})
    assert "send_test_webhook_event" not in past.text and "No entries match" in past.text
    bad = await browser.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text
    usage = await browser.get("/usage")
    assert usage.status_code == 200 and usage.text.count("<svg") == 2
    assert "Workflow runs today" in usage.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
async def test_sign_in_never_redirects_off_site(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient, target: str
) -> None:
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    page = await browser.get("/signin", params={"next": target})
    answer = await browser.post(
        "/signin",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "owner@acme.test",
            "password": PASSWORD,
            "next": target,
        },
    )
    assert answer.headers["location"] == "/"


async def test_a_delivery_page_shows_the_payload_and_retries_a_failed_delivery(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    from core.db import utcnow
    from core.webhooks.models import WebhookDelivery

    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await add_member(runtime, tenant.workspace_id, "viewer@acme.test", "viewer")
    hook = await browser.post(
        "/api/v1/webhooks",
        headers=tenant.headers,
        json={"name": "Dead", "url": "http://127.0.0.1:9/hook", "event_types": ["contact.created"]},
    )
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["data"]["id"]
    test = await browser.post(f"/api/v1/webhooks/{webhook_id}/test", headers=tenant.headers)
    delivery_id = test.json()["data"]["id"]
    path = f"/webhooks/{webhook_id}/deliveries/{delivery_id}"
    api = f"/api/v1/webhook-deliveries/{delivery_id}"
    over_rest = await browser.get(api, headers=tenant.headers)
    assert over_rest.status_code == 200
    assert over_rest.json()["data"]["payload"]["webhook_id"] == webhook_id
    assert over_rest.json()["data"]["status"] == "pending"

    await sign_in(browser, "owner@acme.test")
    page = await browser.get(path)
    assert page.status_code == 200 and "This is a test event" in page.text
    assert "Retry now" not in page.text  # pending: it is on its way anyway
    async with runtime.db.session(tenant.workspace_id) as session:
        row = await session.get(WebhookDelivery, (tenant.workspace_id, delivery_id))
        assert row is not None
        row.status = "succeeded"
    done = await browser.post(path + "/retry", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 400 and "already succeeded" in done.text
    again = await browser.post(api + "/retry", headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "delivery_not_retryable"
    elsewhere = await browser.get(f"/webhooks/{webhook_id}x/deliveries/{delivery_id}")
    assert elsewhere.status_code == 404

    async with runtime.db.session(tenant.workspace_id) as session:
        row = await session.get(WebhookDelivery, (tenant.workspace_id, delivery_id))
        assert row is not None
        row.status, row.attempts, row.last_status_code = "failed", 8, 500
        row.last_response_excerpt = "<h1>Internal error</h1>"
    page = await browser.get(path)
    assert "Retry now" in page.text and "&lt;h1&gt;Internal error&lt;/h1&gt;" in page.text
    retried = await browser.post(path + "/retry", data={"csrf_token": csrf_of(page.text)})
    assert retried.status_code == 303
    shown = await browser.get(retried.headers["location"])
    assert "Retry queued" in shown.text
    async with runtime.db.session(tenant.workspace_id) as session:
        row = await session.get(WebhookDelivery, (tenant.workspace_id, delivery_id))
        assert row is not None and row.status == "retrying"
        assert row.next_attempt_at is not None and row.run_after <= utcnow()

    await browser.post("/signout", data={"csrf_token": csrf_of(shown.text)})
    await sign_in(browser, "viewer@acme.test")
    seen = await browser.get(path)
    assert seen.status_code == 200 and "Retry now" not in seen.text
    forged = await browser.post(path + "/retry", data={"csrf_token": csrf_of(seen.text)})
    assert forged.status_code == 403 and "scope_missing" in forged.text


async def test_switching_workspace_plan_notice_and_the_daily_cap_message(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    from core.db import utcnow
    from core.workflows.models import WorkflowDailyUsage
    from tests.factories import make_workspace

    small = await make_workspace(runtime, "Small shop", "growth")
    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await add_member(runtime, small, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    home = await browser.get("/")
    assert 'id="workspace-switch"' in home.text and "Small shop (owner)" in home.text
    assert "<h1>Acme</h1>" in home.text
    switched = await browser.post(
        "/workspace", data={"csrf_token": csrf_of(home.text), "workspace_id": small}
    )
    assert switched.status_code == 303
    assert "<h1>Small shop</h1>" in (await browser.get("/")).text
    stranger = await browser.post(
        "/workspace", data={"csrf_token": csrf_of(home.text), "workspace_id": "wrk_nope"}
    )
    assert stranger.status_code == 404
    tokens = await browser.get("/tokens")
    assert "The REST API is not included in the Growth plan" in tokens.text
    assert "0 of 5" in tokens.text

    saved = await post_form(
        browser,
        "/workflows/new",
        "/workflows",
        {
            "name": "Greeter",
            "status": "active",
            "recipe": '{"steps": [{"type": "log", "message": "hi"}]}',
        },
    )
    path = saved.headers["location"].split("?")[0]
    async with runtime.db.session(small) as session:
        session.add(
            WorkflowDailyUsage(workspace_id=small, day=utcnow().date().isoformat(), count=100)
        )
    page = await browser.get(path)
    capped = await browser.post(path + "/run", data={"csrf_token": csrf_of(page.text)})
    assert capped.status_code == 429 and "Daily run limit reached" in capped.text
    assert "after midnight UTC" in capped.text
    usage = await browser.get("/usage")
    assert "Growth" in usage.text and "of 100" in usage.text


async def test_members_page_invites_changes_roles_and_keeps_the_last_owner(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    owner_id = await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")
    invited = await post_form(
        browser, "/members", "/members", {"email": "ann@acme.test", "role": "viewer"}
    )
    assert invited.status_code == 201 and "/invitations/" in invited.text
    listing = await browser.get("/members")
    assert "ann@acme.test" in listing.text and "invited" in listing.text
    last = await browser.post(
        f"/members/{owner_id}/role", data={"csrf_token": csrf_of(listing.text), "role": "viewer"}
    )
    assert last.status_code == 409 and "last owner" in last.text
    removed = await browser.post(
        f"/members/{owner_id}/remove", data={"csrf_token": csrf_of(listing.text)}
    )
    assert removed.status_code == 409
    ann = re.search(
        r'action="/members/(mem_[^/]+)/role"[^<]*<input[^>]*>\s*<label for="role-\1"'
        r"[^>]*>Role of ann@acme.test",
        listing.text,
    )
    assert ann
    changed = await browser.post(
        f"/members/{ann.group(1)}/role", data={"csrf_token": csrf_of(listing.text), "role": "admin"}
    )
    assert changed.status_code == 303
    assert "admin" in (await browser.get("/members")).text


async def test_a_page_view_keeps_the_session_alive_and_an_idle_one_ends(
    runtime: Runtime, tenant: Tenant, browser: httpx.AsyncClient
) -> None:
    from datetime import timedelta

    from core.db import utcnow
    from core.members.models import MemberSession

    await add_member(runtime, tenant.workspace_id, "owner@acme.test", "owner")
    await sign_in(browser, "owner@acme.test")

    async def set_last_seen(ago: timedelta) -> None:
        async with owner_session(runtime) as session:
            for row in (await session.execute(select(MemberSession))).scalars():
                row.last_seen_at = utcnow() - ago

    await set_last_seen(timedelta(minutes=5))
    assert (await browser.get("/")).status_code == 200
    async with owner_session(runtime) as session:
        (row,) = (await session.execute(select(MemberSession))).scalars()
        assert utcnow() - row.last_seen_at < timedelta(minutes=1)  # touched
    await set_last_seen(timedelta(hours=12, minutes=1))
    idle = await browser.get("/runs")
    assert idle.status_code == 303 and idle.headers["location"].startswith("/signin")
