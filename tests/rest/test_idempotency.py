"""Idempotency-Key over REST (SPEC §3): replay, reuse, in flight, release, per token, races."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from core import idempotency
from core.audit.models import AuditEntry
from core.db import utcnow
from core.idempotency_models import IdempotencyRecord
from core.runtime import Runtime
from core.tokens import service as tokens
from core.tokens.models import ApiToken
from core.tokens.operations import CreateTokenIn
from tests.factories import Tenant, make_tenant, make_token, owner_session

TOKENS = "/api/v1/tokens"
BODY = {"name": "idem", "scopes": ["crm:read"]}


async def token_count(runtime: Runtime, workspace_id: str) -> int:
    async with owner_session(runtime) as session:
        stmt = select(func.count()).select_from(ApiToken)
        stmt = stmt.where(ApiToken.workspace_id == workspace_id)
        return int((await session.execute(stmt)).scalar_one())


async def records(runtime: Runtime) -> list[IdempotencyRecord]:
    async with owner_session(runtime) as session:
        return list((await session.execute(select(IdempotencyRecord))).scalars())


def with_key(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


def without_secret(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "token"}


async def test_replay_returns_stored_response_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    first = await client.post(TOKENS, headers=with_key(tenant, "k-1"), json=BODY)
    assert first.status_code == 201, first.text
    after_first = await token_count(runtime, tenant.workspace_id)
    second = await client.post(TOKENS, headers=with_key(tenant, "k-1"), json=BODY)
    assert second.status_code == 201, second.text
    # The stored data, minus the secret that is shown once only (never stored).
    assert second.json()["data"] == without_secret(first.json()["data"])
    assert "token" in first.json()["data"]
    assert second.json()["request_id"] == second.headers["X-Request-Id"]
    assert second.json()["request_id"] != first.json()["request_id"]
    assert await token_count(runtime, tenant.workspace_id) == after_first == 2
    # Same body written with keys in another order is the same request.
    third = await client.post(
        TOKENS, headers=with_key(tenant, "k-1"), json={"scopes": ["crm:read"], "name": "idem"}
    )
    assert third.status_code == 201 and third.json()["data"]["id"] == first.json()["data"]["id"]
    assert await token_count(runtime, tenant.workspace_id) == 2
    async with owner_session(runtime) as session:
        outcomes = (
            await session.execute(
                select(AuditEntry.outcome).where(AuditEntry.operation == "create_token")
            )
        ).scalars()
        assert sorted(outcomes) == ["ok", "replayed", "replayed"]


async def test_same_key_different_body_is_422(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    assert (
        await client.post(TOKENS, headers=with_key(tenant, "k-2"), json=BODY)
    ).status_code == 201
    r = await client.post(
        TOKENS, headers=with_key(tenant, "k-2"), json={**BODY, "name": "something else"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert r.json()["error"]["request_id"] == r.headers["X-Request-Id"]
    assert await token_count(runtime, tenant.workspace_id) == 2
    # The same key on another operation is a reuse too.
    other = await client.delete(f"{TOKENS}/{tenant.token_id}", headers=with_key(tenant, "k-2"))
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 200


async def test_key_in_flight_is_409(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    async with owner_session(runtime) as session:
        principal = await tokens.authenticate(session, tenant.token)
    fingerprint = idempotency.request_hash(
        "create_token", CreateTokenIn.model_validate(BODY).model_dump(mode="json")
    )
    claim = await idempotency.begin(
        runtime.db,
        principal,
        key="k-3",
        operation="create_token",
        fingerprint=fingerprint,
        ttl_seconds=3600,
        lock_seconds=60,
    )
    assert isinstance(claim, idempotency.Claim)  # claimed, not a replay
    r = await client.post(TOKENS, headers=with_key(tenant, "k-3"), json=BODY)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "idempotency_key_in_flight"
    assert await token_count(runtime, tenant.workspace_id) == 1
    # The failed duplicate did not release the other request's claim.
    (record,) = await records(runtime)
    assert record.state == "in_flight" and record.key == "k-3"
    # Once the owner's lock lapses (its process died), a retry takes the key over.
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(IdempotencyRecord).values(locked_until=utcnow() - timedelta(seconds=1))
        )
    r = await client.post(TOKENS, headers=with_key(tenant, "k-3"), json=BODY)
    assert r.status_code == 201, r.text
    assert await token_count(runtime, tenant.workspace_id) == 2


async def test_failed_request_releases_the_key(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    ids = [(await make_token(runtime, tenant.workspace_id))[1] for _ in range(4)]
    full = await client.post(TOKENS, headers=with_key(tenant, "k-4"), json=BODY)
    assert full.status_code == 409 and full.json()["error"]["code"] == "token_limit_reached"
    assert await records(runtime) == []
    assert (await client.delete(f"{TOKENS}/{ids[0]}", headers=tenant.headers)).status_code == 200
    retry = await client.post(TOKENS, headers=with_key(tenant, "k-4"), json=BODY)
    assert retry.status_code == 201, retry.text
    assert [r.state for r in await records(runtime)] == ["completed"]


async def test_keys_are_kept_per_token(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    second, _ = await make_token(runtime, tenant.workspace_id, name="second")
    a = await client.post(TOKENS, headers=with_key(tenant, "shared"), json=BODY)
    b = await client.post(
        TOKENS,
        headers={"Authorization": f"Bearer {second}", "Idempotency-Key": "shared"},
        json=BODY,
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["data"]["id"] != b.json()["data"]["id"]
    assert "token" in b.json()["data"]  # a fresh creation, not a replay
    assert await token_count(runtime, tenant.workspace_id) == 4


async def test_a_request_that_outlived_its_lock_cannot_also_write(
    runtime: Runtime, tenant: Tenant
) -> None:
    """A retry took the key over after the first request's lock lapsed: the first one's
    completion is refused (its transaction rolls back) and its release leaves the new
    claim alone; only the retry's response is stored."""
    from core.errors import IdempotencyKeyInFlight

    async with owner_session(runtime) as session:
        principal = await tokens.authenticate(session, tenant.token)
    claim_args = {
        "key": "slow",
        "operation": "create_token",
        "fingerprint": "f" * 64,
        "ttl_seconds": 3600,
        "lock_seconds": 60,
    }
    first = await idempotency.begin(runtime.db, principal, **claim_args)  # type: ignore[arg-type]
    async with owner_session(runtime) as session:  # the first request runs past its lock
        await session.execute(
            sa.update(IdempotencyRecord).values(locked_until=utcnow() - timedelta(seconds=1))
        )
    second = await idempotency.begin(runtime.db, principal, **claim_args)  # type: ignore[arg-type]
    assert isinstance(first, idempotency.Claim) and isinstance(second, idempotency.Claim)
    with pytest.raises(IdempotencyKeyInFlight):
        async with runtime.db.session(tenant.workspace_id) as session:
            await idempotency.complete(session, principal, first, 201, {"data": "first"})
    await idempotency.release(runtime.db, principal, first)  # not its claim any more
    async with runtime.db.session(tenant.workspace_id) as session:
        await idempotency.complete(session, principal, second, 201, {"data": "second"})
    (record,) = await records(runtime)
    assert (record.state, record.response_body) == ("completed", {"data": "second"})


async def test_keys_of_another_workspace_do_not_collide(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    a = await client.post(TOKENS, headers=with_key(tenant, "same"), json=BODY)
    b = await client.post(TOKENS, headers=with_key(other_tenant, "same"), json=BODY)
    assert a.status_code == b.status_code == 201
    assert a.json()["data"]["id"] != b.json()["data"]["id"]


async def test_expired_record_is_not_replayed(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    first = await client.post(TOKENS, headers=with_key(tenant, "old"), json=BODY)
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await client.post(TOKENS, headers=with_key(tenant, "old"), json=BODY)
    assert again.status_code == 201
    assert again.json()["data"]["id"] != first.json()["data"]["id"]
    assert await idempotency.purge_expired(runtime.db) == 0  # the stale record was replaced


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
async def test_invalid_keys_are_400(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, key: str
) -> None:
    r = await client.post(TOKENS, headers=with_key(tenant, key), json=BODY)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_idempotency_key"
    assert await token_count(runtime, tenant.workspace_id) == 1


async def test_key_on_a_read_is_ignored(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    r = await client.get("/api/v1/me", headers=with_key(tenant, "read"))
    assert r.status_code == 200
    assert await records(runtime) == []


async def test_concurrent_requests_with_one_key_write_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime, name="Big", plan="custom")  # 25 active tokens allowed
    statuses: list[int] = []
    created: set[str] = set()

    async def send() -> None:
        r = await client.post(TOKENS, headers=with_key(tenant, "race"), json=BODY)
        statuses.append(r.status_code)
        if r.status_code == 201:
            created.add(r.json()["data"]["id"])
        else:
            assert r.json()["error"]["code"] == "idempotency_key_in_flight", r.text

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(send)
    assert len(statuses) == 50
    assert set(statuses) <= {201, 409}
    assert len(created) == 1  # every 201 is the original or its replay
    assert await token_count(runtime, tenant.workspace_id) == 2
    (record,) = await records(runtime)
    assert record.state == "completed"


async def test_workers_purge_expired_records(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    from core.jobs import Worker

    await client.post(TOKENS, headers=with_key(tenant, "kept"), json=BODY)
    await client.post(TOKENS, headers=with_key(tenant, "stale"), json=BODY)
    async with owner_session(runtime) as session:
        await session.execute(
            sa.update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "stale")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    worker = Worker(runtime, concurrency=1, housekeeping_seconds=0.05)
    async with anyio.create_task_group() as tg:
        await tg.start(worker.run)
        with anyio.fail_after(10):
            while {r.key for r in await records(runtime)} != {"kept"}:
                await anyio.sleep(0.05)
        worker.stop()
    assert worker.stopped.is_set()


async def test_replay_of_a_plain_write_is_identical(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """Same key, same body: the same status and body (bar request_id), one record."""
    headers = with_key(tenant, "contact-1")
    body = {"name": "Jane Doe", "email": "jane@acme.test"}
    first = await client.post("/api/v1/contacts", headers=headers, json=body)
    again = await client.post("/api/v1/contacts", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    one, two = first.json(), again.json()
    assert one.pop("request_id") != two.pop("request_id")
    assert one == two
    listed = await client.get("/api/v1/contacts", headers=tenant.headers)
    assert [c["id"] for c in listed.json()["data"]] == [one["data"]["id"]]
