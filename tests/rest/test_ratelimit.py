"""Per-token rate limits (SPEC §3): headers, 429, shared across channels and processes."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.config import Settings
from core.db import Database
from core.gateway import call_operation
from core.operations import Channel
from core.ratelimit import RateLimiter
from core.runtime import Runtime
from rest.app import build_app
from tests.conftest import REDIS_URL, need_service
from tests.domains import suite_platform as platform
from tests.factories import Tenant, make_token, owner_session

ME = "/api/v1/me"
LIMIT = 5


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rate_limited(r: httpx.Response, limit: int) -> None:
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"]
    assert error["request_id"] == r.headers["X-Request-Id"]
    assert int(r.headers["Retry-After"]) >= 1
    assert error["details"]["retry_after_seconds"] == int(r.headers["Retry-After"])
    assert r.headers["X-RateLimit-Limit"] == str(limit)
    assert r.headers["X-RateLimit-Remaining"] == "0"


async def test_headers_count_down_then_429(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, token_id = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    for i in range(1, LIMIT + 1):
        r = await client.get(ME, headers=bearer(token))
        assert r.status_code == 200, r.text
        assert r.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert r.headers["X-RateLimit-Remaining"] == str(LIMIT - i)
        assert int(r.headers["X-RateLimit-Reset"]) > time.time()
        assert int(r.headers["X-RateLimit-Reset"]) <= time.time() + 62
    over = await client.get(ME, headers=bearer(token))
    assert_rate_limited(over, LIMIT)
    assert int(over.headers["Retry-After"]) <= 61
    # The refusal is audited, and nothing ran.
    async with owner_session(runtime) as session:
        row = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.request_id == over.headers["X-Request-Id"])
            )
        ).scalar_one()
    assert (row.token_id, row.status, row.outcome) == (token_id, 429, "rate_limited")
    # Other tokens, even of the same workspace, have their own budget.
    assert (await client.get(ME, headers=tenant.headers)).status_code == 200


async def test_refusals_count_and_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """Every authenticated request counts (issue 14), a 403 (scope, ability, plan) too, and
    its response says where the token stands."""
    token, _ = await make_token(
        runtime, tenant.workspace_id, scopes=["crm:read"], rate_limit_per_minute=LIMIT
    )
    assert (await client.get(ME, headers=bearer(token))).headers["X-RateLimit-Remaining"] == str(
        LIMIT - 1
    )
    refused = await client.get("/api/v1/tasks", headers=bearer(token))  # needs tasks:read
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_missing"
    assert refused.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert refused.headers["X-RateLimit-Remaining"] == str(LIMIT - 2)
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()
    after = await client.get(ME, headers=bearer(token))
    assert after.headers["X-RateLimit-Remaining"] == str(LIMIT - 3)


async def test_writes_are_limited_too_and_nothing_is_written(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=1)
    assert (await client.get(ME, headers=bearer(token))).status_code == 200
    r = await client.post(
        "/api/v1/tokens", headers=bearer(token), json={"name": "x", "scopes": ["crm:read"]}
    )
    assert_rate_limited(r, 1)
    listed = (await client.get("/api/v1/tokens", headers=tenant.headers)).json()["data"]
    assert len(listed) == 2


async def test_rest_and_mcp_share_one_budget(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    get_me = runtime.registry.get("get_me")
    assert get_me is not None
    for _ in range(3):
        outcome = await call_operation(
            runtime, get_me, credentials=token, channel=Channel.mcp, arguments={}
        )
        assert outcome.status == 200, outcome.body
    for remaining in (1, 0):
        r = await client.get(ME, headers=bearer(token))
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Remaining"] == str(remaining)
    assert_rate_limited(await client.get(ME, headers=bearer(token)), LIMIT)
    outcome = await call_operation(
        runtime, get_me, credentials=token, channel=Channel.mcp, arguments={}
    )
    assert outcome.status == 429 and outcome.body["error"]["code"] == "rate_limited"


async def test_settings_default_applies_without_token_limit(
    settings: Settings, tenant: Tenant
) -> None:
    custom = settings.model_copy(update={"rate_limit_per_minute": 2})
    rt = Runtime(custom, Database(custom.database_url), RateLimiter(None), platform())
    try:
        transport = httpx.ASGITransport(app=build_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get(ME, headers=tenant.headers)).headers["X-RateLimit-Limit"] == "2"
            assert (await http.get(ME, headers=tenant.headers)).status_code == 200
            assert_rate_limited(await http.get(ME, headers=tenant.headers), 2)
    finally:
        await rt.close()


# ---------------------------------------------------------------- shared through Redis


@pytest.fixture
async def redis_pair(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app instances (two runtimes) over one database and one Redis."""
    url = need_service(REDIS_URL, "redis")
    prefix = f"pbtest-{secrets.token_hex(6)}"
    runtimes = [
        Runtime(
            settings=settings,
            db=Database(settings.database_url),
            limiter=RateLimiter(url, key_prefix=prefix),
            platform=platform(),
        )
        for _ in range(2)
    ]
    clients: list[httpx.AsyncClient] = []
    try:
        for rt in runtimes:
            transport = httpx.ASGITransport(app=build_app(rt))
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://t"))
        yield clients
    finally:
        for c in clients:
            await c.aclose()
        await runtimes[0].limiter.reset()
        for rt in runtimes:
            await rt.close()


@pytest.mark.redis
async def test_two_instances_share_the_count_through_redis(
    redis_pair: list[httpx.AsyncClient], runtime: Runtime, tenant: Tenant
) -> None:
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    seen: list[int] = []
    for i in range(LIMIT):
        r = await redis_pair[i % 2].get(ME, headers=bearer(token))
        assert r.status_code == 200, r.text
        seen.append(int(r.headers["X-RateLimit-Remaining"]))
    assert seen == list(range(LIMIT - 1, -1, -1))
    for c in redis_pair:
        assert_rate_limited(await c.get(ME, headers=bearer(token)), LIMIT)


@pytest.mark.redis
async def test_redis_limiter_counts_per_key() -> None:
    url = need_service(REDIS_URL, "redis")
    limiter = RateLimiter(url, key_prefix=f"pbtest-{secrets.token_hex(6)}")
    try:
        states: list[Any] = [await limiter.hit("a", 2) for _ in range(3)]
        assert [s.allowed for s in states] == [True, True, False]
        assert [s.remaining for s in states] == [1, 0, 0]
        assert (await limiter.hit("b", 2)).allowed
    finally:
        await limiter.reset()


# ---------------------------------------------------------------- every REST response


async def test_unknown_routes_and_methods_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    """405 and 404 answers to an authenticated caller count and carry X-RateLimit-* (issue
    14); a 405 names the methods the path serves in Allow (RFC 9110)."""
    token, _ = await make_token(runtime, tenant.workspace_id, rate_limit_per_minute=LIMIT)
    put = await client.put("/api/v1/contacts", headers=bearer(token), json={})
    assert put.status_code == 405 and put.json()["error"]["code"] == "method_not_allowed"
    assert put.headers["Allow"] == "GET, HEAD, POST"
    assert put.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert put.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
    missing = await client.get("/api/v1/nothing-here", headers=bearer(token))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
    assert missing.headers["X-RateLimit-Remaining"] == str(LIMIT - 2)
    anonymous = await client.delete("/api/v1/contacts")
    assert anonymous.status_code == 405 and "X-RateLimit-Limit" not in anonymous.headers
    assert anonymous.headers["Allow"] == "GET, HEAD, POST"
    for _ in range(LIMIT - 2):
        await client.get("/api/v1/nothing-here", headers=bearer(token))
    assert_rate_limited(await client.get("/api/v1/nothing-here", headers=bearer(token)), LIMIT)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/contacts/con_x", "DELETE, GET, HEAD, PATCH"),
        ("/api/v1/me", "GET, HEAD"),
        ("/mcp", "DELETE, GET, HEAD, POST"),
    ],
)
async def test_every_405_says_what_is_allowed(
    client: httpx.AsyncClient, tenant: Tenant, path: str, allow: str
) -> None:
    r = await client.put(path, headers=tenant.headers, json={})
    assert r.status_code == 405, r.text
    assert r.headers["Allow"] == allow


# ---------------------------------------------------------------- Redis unreachable


async def test_startup_fails_closed_when_redis_is_unreachable(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.errors import RateLimiterUnavailable
    from patchbay.serving import require_rate_limiter
    from tests.mcp_server.helpers import free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    down = settings.model_copy(update={"redis_url": url})
    with pytest.raises(SystemExit) as exited:
        await anyio.to_thread.run_sync(require_rate_limiter, down)
    assert exited.value.code == 2
    message = capsys.readouterr().err
    assert "PATCHBAY_REDIS_URL" in message and "unreachable" in message
    assert "hunter2" not in message
    with pytest.raises(RateLimiterUnavailable):  # the app's lifespan refuses to start too
        await RateLimiter(url).check()
