"""Delivery against a real HTTP receiver: signatures, retries, 410, redirects, Retry-After."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.db import utcnow
from core.events.models import DomainEvent
from core.runtime import Runtime
from core.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import Tenant, owner_session
from tests.webhooks.conftest import (
    Receiver,
    RunWorker,
    close_transports,
    create_endpoint,
    deliveries,
    endpoint_row,
    runtime_with,
    wait_until,
)


async def _test_event(client: httpx.AsyncClient, tenant: Tenant, hook_id: str) -> str:
    r = await client.post(f"/api/v1/webhooks/{hook_id}/test", headers=tenant.headers)
    assert r.status_code == 202, r.text
    return str(r.json()["data"]["id"])


async def _delivery(runtime: Runtime, delivery_id: str) -> WebhookDelivery:
    async with owner_session(runtime) as session:
        found = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        return (await session.execute(found)).scalar_one()


async def _status_is(runtime: Runtime, delivery_id: str, *statuses: str) -> bool:
    return (await _delivery(runtime, delivery_id)).status in statuses


async def test_signed_delivery_verifies(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    hook = await create_endpoint(client, tenant, receiver.url("/ok"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, delivery_id, "succeeded"))

    [request] = receiver.at("/ok")
    payload = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["webhook_id"] == hook["id"]
    assert "T" in payload["timestamp"]
    assert request.headers["webhook-id"] == delivery_id
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - request.at) < 60
    # A different secret does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)

    row = await _delivery(runtime, delivery_id)
    assert row.attempts == 1 and row.last_status_code == 200
    assert row.delivered_at is not None and row.next_attempt_at is None
    assert row.last_response_ms is not None and row.last_error is None
    r = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers)
    [listed] = r.json()["data"]
    assert listed["status"] == "succeeded" and listed["attempt_count"] == 1


async def test_retries_until_success(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    receiver.on("/flaky", 500, 500, 200)
    hook = await create_endpoint(client, tenant, receiver.url("/flaky"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, delivery_id, "retrying"))
    row = await _delivery(runtime, delivery_id)
    assert row.last_status_code == 500 and row.last_error == "HTTP 500"
    assert row.next_attempt_at is not None
    assert (await endpoint_row(runtime, hook["id"])).first_failure_at is not None

    await wait_until(lambda: _status_is(runtime, delivery_id, "succeeded", "failed"))
    row = await _delivery(runtime, delivery_id)
    assert row.status == "succeeded" and row.attempts == 3 and row.last_status_code == 200
    requests = receiver.at("/flaky")
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id}
    for request in requests:  # every attempt is signed afresh and verifies
        Webhook(hook["secret"]).verify(request.body, request.headers)
    assert len({r.body for r in requests}) == 1
    assert (await endpoint_row(runtime, hook["id"])).first_failure_at is None


async def test_gone_disables_endpoint(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="patchbay")
    receiver.on("/gone", 410)
    hook = await create_endpoint(client, tenant, receiver.url("/gone"))
    watcher = await create_endpoint(
        client, tenant, receiver.url("/watch"), ["webhook_endpoint.disabled"]
    )
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, delivery_id, "failed"))
    row = await _delivery(runtime, delivery_id)
    assert row.attempts == 1 and row.last_status_code == 410
    endpoint = await endpoint_row(runtime, hook["id"])
    assert endpoint.status == "disabled" and "410" in (endpoint.disabled_reason or "")
    disabled = [r for r in caplog.records if "disabled" in r.getMessage()]
    assert [getattr(r, "webhook_id", None) for r in disabled] == [hook["id"]]
    async with owner_session(runtime) as session:
        events = (
            await session.execute(
                select(DomainEvent).where(DomainEvent.type == "webhook_endpoint.disabled")
            )
        ).scalars()
        [event] = list(events)
    assert event.workspace_id == tenant.workspace_id and event.data["webhook_id"] == hook["id"]
    # The disabled event itself is delivered to subscribers.
    await wait_until(lambda: _has_requests(receiver, "/watch"))
    [request] = receiver.at("/watch")
    body = Webhook(watcher["secret"]).verify(request.body, request.headers)
    assert body["type"] == "webhook_endpoint.disabled"
    assert len(receiver.at("/gone")) == 1


async def _logged(caplog: pytest.LogCaptureFixture, delivery_id: str, status: str) -> bool:
    return any(
        getattr(r, "delivery_id", None) == delivery_id and getattr(r, "status", None) == status
        for r in caplog.records
    )


async def _has_requests(receiver: Receiver, path: str) -> bool:
    return bool(receiver.at(path))


async def test_redirect_is_a_failure(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    receiver.on("/moved", (301, {"location": receiver.url("/target")}))
    hook = await create_endpoint(client, tenant, receiver.url("/moved"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, delivery_id, "retrying", "failed"))
    row = await _delivery(runtime, delivery_id)
    assert row.status == "retrying"
    assert row.last_status_code == 301 and "301" in (row.last_error or "")
    assert receiver.at("/target") == []


async def test_retry_after_is_honoured(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    receiver.on("/busy", (503, {"retry-after": "120"}))
    receiver.on("/later", (429, {"retry-after": format_datetime(utcnow() + timedelta(hours=1))}))
    busy = await create_endpoint(client, tenant, receiver.url("/busy"))
    later = await create_endpoint(client, tenant, receiver.url("/later"))
    busy_id = await _test_event(client, tenant, busy["id"])
    later_id = await _test_event(client, tenant, later["id"])
    before = utcnow()
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, busy_id, "retrying"))
    await wait_until(lambda: _status_is(runtime, later_id, "retrying"))
    row = await _delivery(runtime, busy_id)
    assert row.last_status_code == 503
    assert row.next_attempt_at is not None and row.next_attempt_at >= before + timedelta(
        seconds=120
    )
    assert row.run_after == row.next_attempt_at
    row = await _delivery(runtime, later_id)
    assert row.last_status_code == 429
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= before + timedelta(minutes=59)


async def test_schedule_exhausted_fails(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="patchbay")
    receiver.on("/down", 500, 502, 504)
    hook = await create_endpoint(client, tenant, receiver.url("/down"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime_with(runtime, webhook_retry_schedule="0.2,0.2"))
    await wait_until(lambda: _status_is(runtime, delivery_id, "failed"))
    # The server log has a line per failed attempt, the last one a warning, with the ids.
    await wait_until(lambda: _logged(caplog, delivery_id, "failed"))
    lines = [r for r in caplog.records if getattr(r, "delivery_id", None) == delivery_id]
    assert [(r.levelname, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("INFO", "retrying"),
        ("INFO", "retrying"),
        ("WARNING", "failed"),
    ]
    assert all(r.webhook_id == hook["id"] for r in lines)  # type: ignore[attr-defined]
    assert "HTTP 504" in lines[-1].getMessage() and hook["id"] in lines[-1].getMessage()
    row = await _delivery(runtime, delivery_id)
    assert row.attempts == 3 and row.last_status_code == 504
    assert row.next_attempt_at is None and row.delivered_at is None
    assert len(receiver.at("/down")) == 3
    assert (await endpoint_row(runtime, hook["id"])).status == "active"


async def test_failing_for_five_days_disables(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    receiver.on("/broken", 500)
    hook = await create_endpoint(client, tenant, receiver.url("/broken"))
    async with owner_session(runtime) as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == hook["id"])
            .values(first_failure_at=utcnow() - timedelta(days=5, minutes=1))
        )
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime)
    await wait_until(lambda: _status_is(runtime, delivery_id, "failed"))
    endpoint = await endpoint_row(runtime, hook["id"])
    assert endpoint.status == "disabled" and "5 days" in (endpoint.disabled_reason or "")
    assert (await _delivery(runtime, delivery_id)).last_status_code == 500


async def test_url_rechecked_at_delivery(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    hook = await create_endpoint(client, tenant, receiver.url("/ok"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    await run_worker(runtime_with(runtime, allow_private_network=False))
    await wait_until(lambda: _status_is(runtime, delivery_id, "failed"))
    row = await _delivery(runtime, delivery_id)
    assert row.attempts == 1 and row.last_status_code is None
    assert (row.last_error or "").startswith("url_not_allowed")
    assert receiver.at("/ok") == []


async def test_paused_endpoint_holds_deliveries(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    hook = await create_endpoint(client, tenant, receiver.url("/ok"))
    delivery_id = await _test_event(client, tenant, hook["id"])
    r = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"status": "paused"}, headers=tenant.headers
    )
    assert r.status_code == 200
    await run_worker(runtime)

    async def held() -> bool:
        row = await _delivery(runtime, delivery_id)
        return row.run_after > utcnow() + timedelta(minutes=1)

    await wait_until(held)
    row = await _delivery(runtime, delivery_id)
    assert row.status == "pending" and row.attempts == 0 and receiver.at("/ok") == []
    r = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"status": "active"}, headers=tenant.headers
    )
    assert r.status_code == 200
    await wait_until(lambda: _status_is(runtime, delivery_id, "succeeded"))
    assert len(receiver.at("/ok")) == 1
    assert json.loads(receiver.at("/ok")[0].body)["type"] == "webhook.test"


async def test_batches_record_every_outcome(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    """More deliveries than one batch, two workspaces, mixed outcomes: each row is right."""
    from core.webhooks.fanout import enqueue_event

    good = await create_endpoint(client, tenant, receiver.url("/good"), ["deal.updated"])
    bad = await create_endpoint(client, other_tenant, receiver.url("/bad"), ["deal.updated"])
    receiver.on("/bad", *([500] * 40))
    for tenant_ in (tenant, other_tenant):
        async with runtime.db.session(tenant_.workspace_id) as session:
            for n in range(40):
                await enqueue_event(session, tenant_.workspace_id, "deal.updated", {"n": n})
    await run_worker(runtime)

    async def settled() -> bool:
        rows = await deliveries(runtime)
        good_done = all(r.status == "succeeded" for r in rows if r.endpoint_id == good["id"])
        bad_tried = all(r.last_status_code for r in rows if r.endpoint_id == bad["id"])
        return good_done and bad_tried

    await wait_until(settled, timeout=60)
    rows = await deliveries(runtime)
    assert len(rows) == 80
    good_rows = [r for r in rows if r.endpoint_id == good["id"]]
    assert all(r.workspace_id == tenant.workspace_id for r in good_rows)
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.at("/good")) == list(range(40))
    for request in receiver.at("/good"):
        Webhook(good["secret"]).verify(request.body, request.headers)
    for request in receiver.at("/bad"):
        Webhook(bad["secret"]).verify(request.body, request.headers)
    bad_rows = [r for r in rows if r.endpoint_id == bad["id"]]
    assert all(r.last_status_code in (500, 200) for r in bad_rows)
    assert all(r.locked_by is None or r.status in ("pending", "retrying") for r in rows)


async def test_batch_leases_are_kept_while_a_slow_endpoint_answers(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    """A batch outlives its lease at a slow endpoint: no other worker may take its rows
    meanwhile, so nothing is sent twice."""
    from core.jobs.queue import claim
    from core.webhooks.fanout import enqueue_event
    from core.webhooks.jobs import QUEUE

    rt = runtime_with(runtime, job_lease_seconds=1.0)
    hook = await create_endpoint(client, tenant, receiver.url("/slow"), ["deal.updated"])
    receiver.delays["/slow"] = 2.5
    async with rt.db.session(tenant.workspace_id) as session:
        for n in range(3):
            await enqueue_event(session, tenant.workspace_id, "deal.updated", {"n": n})
    await run_worker(rt, concurrency=1)  # one slot: it takes all three in one batch

    async def all_in_flight() -> bool:
        return len(receiver.at("/slow")) == 3

    await wait_until(all_in_flight)
    await anyio.sleep(1.5)  # past the 1 s lease the batch was claimed with
    stolen = await claim(rt.db, QUEUE, worker_id="intruder", lease_seconds=60, limit=10)
    assert stolen == []

    async def delivered() -> bool:
        return all(r.status == "succeeded" for r in await deliveries(rt, hook["id"]))

    await wait_until(delivered)
    assert len(receiver.at("/slow")) == 3


async def test_a_row_whose_lease_was_lost_is_left_to_its_new_worker(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, receiver: Receiver
) -> None:
    """A batch records only the rows it still holds: one taken over by another worker
    (after our lease lapsed) is recorded by that worker, never twice."""
    from dataclasses import replace

    from core.jobs.queue import claim
    from core.webhooks.delivery import deliver
    from core.webhooks.jobs import QUEUE

    hook = await create_endpoint(client, tenant, receiver.url("/ok"))
    first = await _test_event(client, tenant, hook["id"])
    second = await _test_event(client, tenant, hook["id"])
    batch = await claim(runtime.db, QUEUE, worker_id="me", lease_seconds=60, limit=10)
    assert {job.id for job in batch} == {first, second}
    lost = next(job for job in batch if job.id == first)
    async with owner_session(runtime) as session:  # our lease lapsed; "other" claimed it
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == first)
            .values(locked_by="other", attempts=WebhookDelivery.attempts + 1)
        )

    await deliver(runtime, batch)
    taken, kept = await _delivery(runtime, first), await _delivery(runtime, second)
    assert (taken.status, taken.locked_by, taken.last_status_code) == ("pending", "other", None)
    assert (kept.status, kept.locked_by, kept.attempts) == ("succeeded", None, 1)

    await deliver(runtime, [replace(lost, worker_id="other", attempts=2)])
    taken = await _delivery(runtime, first)
    assert (taken.status, taken.locked_by, taken.attempts) == ("succeeded", None, 2)
    await close_transports()


async def test_the_worker_claims_a_whole_batch_at_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    runtime: Runtime,
    receiver: Receiver,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The queue's batch contract: one claim of up to BATCH_SIZE rows by the worker, the
    handler sends them all and claims nothing itself."""
    from core.jobs import worker as worker_module
    from core.webhooks.delivery import BATCH_SIZE

    real_claim = worker_module.claim
    claims: list[tuple[int, int]] = []

    async def counting_claim(*args: Any, **kwargs: Any) -> Any:
        jobs = await real_claim(*args, **kwargs)
        if jobs:
            claims.append((kwargs["limit"], len(jobs)))
        return jobs

    monkeypatch.setattr(worker_module, "claim", counting_claim)
    hook = await create_endpoint(client, tenant, receiver.url("/ok"))
    ids = [await _test_event(client, tenant, hook["id"]) for _ in range(5)]
    await run_worker(runtime, concurrency=1)
    for delivery_id in ids:
        await wait_until(lambda d=delivery_id: _status_is(runtime, d, "succeeded"))
    assert claims == [(BATCH_SIZE, 5)]
    assert len(receiver.at("/ok")) == 5
