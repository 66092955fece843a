"""Smoke: the app answers /healthz, /me and the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.factories import Tenant


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_me(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/api/v1/me", headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["workspace"]["id"] == tenant.workspace_id
    assert body["request_id"].startswith("req_")
    assert r.headers["X-Request-Id"] == body["request_id"]
    assert int(r.headers["X-RateLimit-Remaining"]) == 599
