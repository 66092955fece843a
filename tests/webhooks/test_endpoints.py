"""Webhook endpoints and event types over REST: secrets, validation, SSRF, isolation."""

from __future__ import annotations

import base64
import json
from typing import Any

import anyio
import httpx
import pytest
from sqlmodel import func, select

from core.gateway import Outcome
from core.runtime import Runtime
from core.webhooks.models import IntegrationEventType, WebhookDelivery, WebhookEndpoint
from tests.factories import Tenant, owner_session
from tests.webhooks.conftest import create_endpoint, deliveries, endpoint_row, runtime_with

HOOK = "http://127.0.0.1:9/hook"


async def test_secret_is_shown_once(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    created = await create_endpoint(client, tenant, HOOK, ["contact.created"], name="CRM hook")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 32
    assert created["id"].startswith("wh_") and created["status"] == "active"
    assert created["secret_preview"] == created["signing_secret_preview"]
    assert (
        created["secret_preview"].startswith("whsec_") and secret not in created["secret_preview"]
    )
    assert (await endpoint_row(runtime, created["id"])).secret == secret

    got = await client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers)
    assert got.status_code == 200
    assert "secret" not in got.json()["data"]
    assert got.json()["data"]["secret_preview"] == created["secret_preview"]
    listed = await client.get("/api/v1/webhooks", headers=tenant.headers)
    assert [w["id"] for w in listed.json()["data"]] == [created["id"]]
    assert secret not in listed.text and secret not in got.text

    # A plain update never shows a secret; rotate_secret shows the new one once.
    r = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"name": "Renamed"}, headers=tenant.headers
    )
    assert r.status_code == 200 and "secret" not in r.json()["data"]
    assert r.json()["data"]["name"] == "Renamed"
    r = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"rotate_secret": True}, headers=tenant.headers
    )
    assert r.status_code == 200
    rotated = r.json()["data"]["secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    assert (await endpoint_row(runtime, created["id"])).secret == rotated
    got = await client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers)
    assert "secret" not in got.json()["data"] and rotated not in got.text


async def test_event_types_must_be_well_formed(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Any well-formed custom name may be subscribed to without registering it first."""
    r = await client.post(
        "/api/v1/webhooks",
        json={"name": "x", "url": HOOK, "event_types": ["Campaign Kickoff"]},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_invalid"
    unregistered = await create_endpoint(client, tenant, HOOK, ["campaign.started"])
    assert unregistered["event_types"] == ["campaign.started"]

    r = await client.post(
        "/api/v1/integrations/events",
        json={"key": "campaign.kickoff", "description": "Campaign started."},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["id"].startswith("iet_") and r.json()["data"]["source"] == "custom"
    created = await create_endpoint(client, tenant, HOOK, ["campaign.kickoff", "lead.created"])
    assert created["event_types"] == ["campaign.kickoff", "lead.created"]

    r = await client.patch(
        f"/api/v1/webhooks/{created['id']}",
        json={"event_types": ["nope"]},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_invalid"
    wild = await create_endpoint(client, tenant, HOOK, ["*"])
    assert wild["event_types"] == ["*"]


async def test_register_and_list_event_types(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime
) -> None:
    url = "/api/v1/integrations/events"
    r = await client.post(url, json={"key": "campaign.kickoff"}, headers=tenant.headers)
    assert r.status_code == 201
    r = await client.post(url, json={"key": "campaign.kickoff"}, headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "event_type_exists"
    r = await client.post(url, json={"key": "contact.created"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_reserved"
    r = await client.post(url, json={"key": "Not A Key"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_invalid"
    # Another workspace may register the same key.
    r = await client.post(url, json={"key": "campaign.kickoff"}, headers=other_tenant.headers)
    assert r.status_code == 201

    listed = (await client.get(url, headers=tenant.headers)).json()["data"]
    by_key = {item["key"]: item for item in listed}
    assert by_key["contact.created"]["source"] == "builtin"
    assert by_key["webhook.test"]["source"] == "builtin"
    assert by_key["campaign.kickoff"]["source"] == "custom"
    custom = (await client.get(url, params={"source": "custom"}, headers=tenant.headers)).json()
    assert [i["key"] for i in custom["data"]] == ["campaign.kickoff"]
    crm = (await client.get(url, params={"category": "crm"}, headers=tenant.headers)).json()
    assert crm["data"] and all(i["category"] == "crm" for i in crm["data"])
    async with owner_session(runtime) as session:
        count = (
            await session.execute(select(func.count()).select_from(IntegrationEventType))
        ).scalar_one()
    assert count == 2


async def test_list_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a = await create_endpoint(client, tenant, HOOK, ["contact.created"], name="Sales ops")
    b = await create_endpoint(
        client, tenant, "http://127.0.0.1:9/other", ["lead.created", "deal.updated"], name="B"
    )
    c = await create_endpoint(client, tenant, HOOK, ["*"], name="Everything")
    await client.patch(
        f"/api/v1/webhooks/{b['id']}", json={"status": "paused"}, headers=tenant.headers
    )

    async def ids(**params: str) -> set[str]:
        r = await client.get("/api/v1/webhooks", params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        return {w["id"] for w in r.json()["data"]}

    assert await ids(query="sales") == {a["id"]}
    assert await ids(query="/other") == {b["id"]}
    assert await ids(status="paused") == {b["id"]}
    assert await ids(event_type="contact.created") == {a["id"], c["id"]}
    assert await ids(event_type="lead.created") == {b["id"], c["id"]}
    assert await ids(event_type="deal_updated") == {c["id"]}  # "_" is not a wildcard


async def test_url_refused_at_save(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    from rest.app import build_app

    strict = runtime_with(runtime, allow_private_network=False)
    transport = httpx.ASGITransport(app=build_app(strict))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for url, reason, hint in (
            ("http://127.0.0.1/hook", "scheme_not_allowed", True),
            ("https://127.0.0.1/hook", "loopback", True),
            ("https://10.1.2.3/hook", "private", True),
            ("https://169.254.169.254/latest", "cloud_metadata", False),
            ("https://localhost/hook", "local_hostname", True),
            ("http://example.com/hook", "scheme_not_allowed", False),
        ):
            r = await c.post(
                "/api/v1/webhooks",
                json={"name": "x", "url": url, "event_types": ["*"]},
                headers=tenant.headers,
            )
            assert r.status_code == 422, (url, r.text)
            error = r.json()["error"]
            assert error["code"] == "url_not_allowed"
            assert reason in error["message"]
            # A host the development setting would allow: the message says how.
            assert ("PATCHBAY_ALLOW_PRIVATE_NETWORK=true" in error["message"]) is hint, error
        # An existing endpoint cannot be moved to a refused URL either.
        created = await create_endpoint(client, tenant, HOOK)
        r = await c.patch(
            f"/api/v1/webhooks/{created['id']}",
            json={"url": "https://192.168.1.1/x"},
            headers=tenant.headers,
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_allowed"
        # The verdict counts where the rules ask for it: an unknown endpoint is a 404 and an
        # unknown event type a 422 of its own, and resending the URL it has is no change.
        r = await c.patch(
            "/api/v1/webhooks/wh_unknown",
            json={"url": "https://10.0.0.1/x"},
            headers=tenant.headers,
        )
        assert r.status_code == 404, r.text
        r = await c.post(
            "/api/v1/webhooks",
            json={"name": "x", "url": "https://10.0.0.1/x", "event_types": ["nope"]},
            headers=tenant.headers,
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "event_type_invalid"
        r = await c.patch(
            f"/api/v1/webhooks/{created['id']}",
            json={"url": HOOK, "name": "Same URL"},
            headers=tenant.headers,
        )
        assert r.status_code == 200, r.text
    assert (await endpoint_row(runtime, created["id"])).url == HOOK
    async with owner_session(runtime) as session:
        count = (
            await session.execute(select(func.count()).select_from(WebhookEndpoint))
        ).scalar_one()
    assert count == 1


async def test_url_is_resolved_before_the_write_transaction(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolving a URL's host may take seconds: create and update resolve it before their
    transaction opens, holding no connection, so other writers (on SQLite: every other
    writer of the database) go on meanwhile."""
    from core.gateway import call_operation
    from core.operations import Channel
    from core.webhooks import urls

    async def call(op_name: str, **arguments: Any) -> Outcome:
        op = runtime.registry.get(op_name)
        assert op is not None
        return await call_operation(
            runtime, op, credentials=tenant.token, channel=Channel.rest, arguments=arguments
        )

    real_check = urls.check_url
    resolving = anyio.Event()
    answer = anyio.Event()
    connections_held: list[int] = []

    async def slow_check(url: str, **options: Any) -> Any:
        connections_held.append(runtime.db.engine.pool.checkedout())
        resolving.set()
        await answer.wait()
        return await real_check(url, **options)

    async def while_resolving(op_name: str, **arguments: Any) -> Outcome:
        """Call ``op_name`` and, while its URL resolves, another write operation."""
        nonlocal resolving, answer
        resolving, answer = anyio.Event(), anyio.Event()
        outcomes: list[Outcome] = []

        async def slow_write() -> None:
            outcomes.append(await call(op_name, **arguments))

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_write)
            with anyio.fail_after(10):
                await resolving.wait()
            with anyio.fail_after(5):  # not queued behind the slow write's transaction
                key = f"other.write{len(connections_held)}"
                other = await call("register_integration_event_type", key=key)
            assert other.status == 201, other.body
            answer.set()
        return outcomes[0]

    monkeypatch.setattr(urls, "check_url", slow_check)
    created = await while_resolving(
        "create_webhook_endpoint", name="Slow DNS", url=HOOK, event_types=["*"]
    )
    assert created.status == 201, created.body
    hook = created.body["data"]["id"]
    updated = await while_resolving("update_webhook_endpoint", webhook_id=hook, url=HOOK + "/2")
    assert updated.status == 200, updated.body
    assert connections_held == [0, 0]
    assert (await endpoint_row(runtime, hook)).url == HOOK + "/2"


async def test_send_test_queues_one_delivery(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    target = await create_endpoint(client, tenant, HOOK, ["contact.created"])
    other = await create_endpoint(client, tenant, HOOK, ["*"])
    r = await client.post(f"/api/v1/webhooks/{target['id']}/test", headers=tenant.headers)
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    assert data["id"].startswith("whd_")
    assert data["event_type"] == "webhook.test" and data["status"] == "pending"
    assert data["webhook_id"] == target["id"] and data["attempt_count"] == 0
    assert [d.endpoint_id for d in await deliveries(runtime)] == [target["id"]]
    assert await deliveries(runtime, other["id"]) == []

    r = await client.get(
        f"/api/v1/webhooks/{target['id']}/deliveries",
        params={"event_type": "webhook.test", "status": "pending"},
        headers=tenant.headers,
    )
    assert r.status_code == 200 and [d["id"] for d in r.json()["data"]] == [data["id"]]
    r = await client.get(
        f"/api/v1/webhooks/{target['id']}/deliveries",
        params={"status": "succeeded"},
        headers=tenant.headers,
    )
    assert r.json()["data"] == []


async def test_disabling_fails_queued_deliveries(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    hook = await create_endpoint(client, tenant, HOOK)
    await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=tenant.headers)
    r = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"status": "disabled"}, headers=tenant.headers
    )
    assert r.status_code == 200 and r.json()["data"]["status"] == "disabled"
    [row] = await deliveries(runtime, hook["id"])
    assert row.status == "failed" and row.last_error == "endpoint_disabled"
    r = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "webhook_endpoint_disabled"


async def test_other_workspace_sees_nothing(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime
) -> None:
    hook = await create_endpoint(client, tenant, HOOK, ["contact.created"], name="Mine")
    base = f"/api/v1/webhooks/{hook['id']}"
    foreign = other_tenant.headers
    for r in (
        await client.get(base, headers=foreign),
        await client.patch(base, json={"name": "Stolen", "status": "paused"}, headers=foreign),
        await client.patch(base, json={"rotate_secret": True}, headers=foreign),
        await client.post(f"{base}/test", headers=foreign),
        await client.get(f"{base}/deliveries", headers=foreign),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "webhook_not_found"
    listed = await client.get("/api/v1/webhooks", headers=foreign)
    assert listed.json()["data"] == []
    row = await endpoint_row(runtime, hook["id"])
    assert (row.name, row.status, row.secret) == ("Mine", "active", hook["secret"])
    async with owner_session(runtime) as session:
        count = (
            await session.execute(select(func.count()).select_from(WebhookDelivery))
        ).scalar_one()
    assert count == 0


async def test_custom_event_type_cap_is_exact_under_concurrency(
    runtime: Runtime, tenant: Tenant
) -> None:
    """470 registered, then 100 concurrent registrations: exactly 30 more (issue 14: on
    PostgreSQL the count-then-insert let 502 in)."""
    from core.gateway import call_operation
    from core.operations import Channel
    from core.webhooks import service
    from core.webhooks.service import MAX_CUSTOM_EVENT_TYPES

    prefilled = MAX_CUSTOM_EVENT_TYPES - 30
    async with runtime.db.session(tenant.workspace_id) as session:
        for i in range(prefilled):
            await service.register_event_type(
                session, tenant.workspace_id, key=f"bulk.type{i}", category=None, description=None
            )
    op = runtime.registry.get("register_integration_event_type")
    assert op is not None
    outcomes: list[tuple[int, str | None]] = []

    async def register(i: int) -> None:
        outcome = await call_operation(
            runtime,
            op,
            credentials=tenant.token,
            channel=Channel.rest,
            arguments={"key": f"race.type{i}"},
        )
        outcomes.append((outcome.status, outcome.error.code if outcome.error else None))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(register, i)
    assert outcomes.count((201, None)) == 30
    assert outcomes.count((409, "event_type_limit_reached")) == 70
    async with owner_session(runtime) as session:
        count = (
            await session.execute(select(func.count()).select_from(IntegrationEventType))
        ).scalar_one()
    assert count == MAX_CUSTOM_EVENT_TYPES


async def test_secret_is_neither_replayed_nor_stored_for_replays(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    """Create and rotate with an Idempotency-Key: the replay answers without the secret and
    the idempotency table never holds one (issue 14)."""
    from core.idempotency_models import IdempotencyRecord

    headers = {**tenant.headers, "Idempotency-Key": "hook-1"}
    body = {"name": "Ops", "url": HOOK, "event_types": ["contact.created"]}
    first = await client.post("/api/v1/webhooks", json=body, headers=headers)
    again = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["data"]["secret"].startswith("whsec_")
    assert "secret" not in again.json()["data"]
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    url = f"/api/v1/webhooks/{first.json()['data']['id']}"
    rotate = {**tenant.headers, "Idempotency-Key": "rotate-1"}
    rotated = await client.patch(url, json={"rotate_secret": True}, headers=rotate)
    replayed = await client.patch(url, json={"rotate_secret": True}, headers=rotate)
    assert rotated.json()["data"]["secret"].startswith("whsec_")
    assert replayed.status_code == 200 and "secret" not in replayed.json()["data"]
    async with owner_session(runtime) as session:
        bodies = (await session.execute(select(IdempotencyRecord.response_body))).scalars().all()
    assert len(bodies) == 2
    assert all("secret" not in b["data"] for b in bodies)  # (previews are kept)
    stored = json.dumps(bodies)
    for secret in (first.json()["data"]["secret"], rotated.json()["data"]["secret"]):
        assert secret not in stored
